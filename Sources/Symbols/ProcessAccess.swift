#if canImport(Glibc)
  import Glibc
#endif
import SondeSystem

/// Whether a maps-style `major:minor` (hex) device names the stat `st_dev` (glibc's makedev encoding).
/// An unknown (`00:00` or unparsable) device matches anything.
func sameDevice(_ device: String, _ dev: UInt64) -> Bool {
  let parts = device.split(separator: ":")
  guard parts.count == 2, let major = UInt64(parts[0], radix: 16), let minor = UInt64(parts[1], radix: 16),
    major != 0 || minor != 0
  else { return true }
  let encoded = ((major & 0xfff) << 8) | (minor & 0xff) | ((minor & ~0xff) << 12) | ((major & ~0xfff) << 32)
  return encoded == dev
}

/// Reads `count` bytes at `address` of process `pid` through `/proc/PID/mem` (needs ptrace access).
func readProcessMemory(pid: Int32, address: UInt64, count: Int) -> [UInt8]? {
  let fd = open("/proc/\(pid)/mem", O_RDONLY | O_CLOEXEC)
  guard fd >= 0 else { return nil }
  defer { close(fd) }
  var buffer = [UInt8](repeating: 0, count: count)
  var done = 0
  while done < count {
    let position = Int(bitPattern: UInt(address)) &+ done
    let n = buffer.withUnsafeMutableBytes { raw -> Int in
      guard let base = raw.baseAddress else { return -1 }
      return pread(fd, base + done, count - done, position)
    }
    if n < 0 && errno == EINTR { continue }
    guard n > 0 else { return nil }
    done += n
  }
  return buffer
}
