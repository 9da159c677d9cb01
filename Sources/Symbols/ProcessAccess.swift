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
  guard let fd = try? FileDescriptor.open("/proc/\(pid)/mem", O_RDONLY) else { return nil }
  var buffer = [UInt8](repeating: 0, count: count)
  var done = 0
  while done < count {
    let position = Int64(bitPattern: address) &+ Int64(done)
    guard let n = try? fd.read(into: &buffer, range: done..<count, at: position), n > 0 else { return nil }
    done += n
  }
  return buffer
}
