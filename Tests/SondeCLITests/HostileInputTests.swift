import Foundation
import SondeTestSupport
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// What a file, a flag or a signal may do to Sonde, which runs as root on files others produced: never
/// harm the machine (replace a device), never crash, hang or read without bound, always leave readable
/// output and a clear error. Each test pins one defect found by trying Sonde as a hostile user would.
@Suite(.serialized)
struct HostileInputTests {
  static var sonde: String { TestSupport.sonde }
  static var demo: String { TestSupport.demo }

  /// The identity of a path's node: device, inode, type and permission bits (lstat: links are not followed).
  static func node(_ path: String) -> (dev: UInt64, ino: UInt64, mode: UInt32)? {
    var st = stat()
    guard lstat(path, &st) == 0 else { return nil }
    return (UInt64(st.st_dev), UInt64(st.st_ino), UInt32(st.st_mode))
  }

  @Test func recordingOntoDevNullWritesThroughAndLeavesTheDeviceAlone() throws {
    let before = try #require(Self.node("/dev/null"))
    let r = try TestSupport.run(Self.sonde, ["record", "-o", "/dev/null", "--", "true"])
    #expect(r.status == 0, "\(r.stderr)")
    let after = try #require(Self.node("/dev/null"))
    #expect(after.dev == before.dev && after.ino == before.ino && after.mode == before.mode, "/dev/null was replaced")
    #expect(after.mode & UInt32(S_IFMT) == UInt32(S_IFCHR))
    #expect(Self.node("/dev/null.old") == nil, "no /dev/null.old appears")
  }

  @Test func recordingIntoAFIFOStreamsPerfsPipeFormatThroughIt() throws {
    let dir = try TestSupport.temporaryDirectory("fifo-out")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let fifo = dir + "/out.fifo"
    let copy = dir + "/copy.data"
    #expect(mkfifo(fifo, 0o600) == 0)
    let before = try #require(Self.node(fifo))
    // A reader on the FIFO, as a user's `cat fifo > file` or `perf report -i -` would be.
    let reader = Process()
    reader.executableURL = URL(fileURLWithPath: "/bin/sh")
    reader.arguments = ["-c", "cat '\(fifo)' > '\(copy)'"]
    try reader.run()
    let r = try TestSupport.run(Self.sonde, ["record", "-F", "499", "-o", fifo, "--", Self.demo, "selfshares", "200"])
    reader.waitUntilExit()
    #expect(r.status == 0, "\(r.stderr)")
    let after = try #require(Self.node(fifo))
    #expect(after.ino == before.ino && after.mode == before.mode, "the FIFO is still the same FIFO")
    #expect(Self.node(fifo + ".old") == nil)
    let perf = try TestSupport.run("sh", ["-c", "perf report --stdio -i - --sort sym < '\(copy)'"])
    #expect(perf.status == 0, "\(perf.stderr)")
    #expect(perf.stdout.contains("self_hot"), "perf reads the stream that went through the FIFO")
  }

  @Test func aSymlinkIsWrittenThroughAndARegularFileIsKeptAsOld() throws {
    let dir = try TestSupport.temporaryDirectory("symlink-out")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let target = dir + "/target.data"
    let link = dir + "/link.data"
    _ = FileManager.default.createFile(atPath: target, contents: Data("previous".utf8))
    #expect(symlink(target, link) == 0)
    let r = try TestSupport.run(Self.sonde, ["record", "-o", link, "--", "true"])
    #expect(r.status == 0, "\(r.stderr)")
    let linkNode = try #require(Self.node(link))
    #expect(linkNode.mode & UInt32(S_IFMT) == UInt32(S_IFLNK), "the link is still a link")
    #expect(Self.node(link + ".old") == nil, "a link is not rotated")
    let head = try #require(FileHandle(forReadingAtPath: target)?.readData(ofLength: 8))
    #expect(String(decoding: head, as: UTF8.self) == "PERFILE2", "the recording went into the link's target")
    // A regular, non-empty file is kept as FILE.old, as perf does.
    let again = try TestSupport.run(Self.sonde, ["record", "-o", target, "--", "true"])
    #expect(again.status == 0)
    #expect(Self.node(target + ".old") != nil)
  }

  @Test func devZeroIsRejectedAtTheMagicWithoutReadingItIntoMemory() throws {
    for argv in [
      [Self.sonde, "report", "-i", "/dev/zero"],
      ["/bin/sh", "-c", "exec '\(Self.sonde)' report -i - < /dev/zero"],
      ["/bin/sh", "-c", "cat /dev/zero | '\(Self.sonde)' script -i -"],
    ] {
      let r = try BoundedRun.run(argv, timeoutSeconds: 20, stdoutLimitBytes: 1 << 20)
      #expect(r.status == 1, "\(argv): \(r)")
      #expect(r.stderr.contains("bad magic"), "\(r.stderr)")
      // Reading /dev/zero runs at hundreds of MB/s: a reader that checked late would hold gigabytes.
      #expect(r.maxRSSKilobytes < 200_000, "\(argv): \(r)")
    }
  }

  @Test func aFIFOWhereABinaryShouldBeIsRefusedNotWaitedOn() throws {
    let dir = try TestSupport.temporaryDirectory("fifo-elf")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let fifo = dir + "/binary"
    #expect(mkfifo(fifo, 0o600) == 0)
    let r = try BoundedRun.run(
      [Self.sonde, "symbolize", "-e", fifo, "0x1000"], timeoutSeconds: 20, stdoutLimitBytes: 1 << 20)
    #expect(!r.timedOut && r.status == 1, "\(r)")
    #expect(r.stderr.contains("not a regular file (FIFO)"), "\(r.stderr)")
  }

  @Test func aKilledRecorderLeavesAFileThatPerfAndSondeRead() throws {
    let dir = try TestSupport.temporaryDirectory("sigkill")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let file = dir + "/killed.data"
    let recorder = Process()
    recorder.executableURL = URL(fileURLWithPath: Self.sonde)
    recorder.arguments = ["record", "-F", "999", "-g", "-o", file, "--", Self.demo, "shares", "20000"]
    recorder.standardError = FileHandle.nullDevice
    try recorder.run()
    // Kill once samples have reached the disk: the file grows past its header every round.
    func size() -> Int {
      var st = stat()
      return stat(file, &st) == 0 ? Int(st.st_size) : 0
    }
    var waited = 0
    while size() < 40_000 && waited < 300 {
      usleep(50_000)
      waited += 1
    }
    kill(recorder.processIdentifier, SIGKILL)
    // The command outlives its killed recorder; end it before waiting (Foundation's wait can see its pipes).
    _ = try? TestSupport.run("pkill", ["-f", "\(Self.demo) shares 20000"])
    recorder.waitUntilExit()
    let script = try TestSupport.run("perf", ["script", "-i", file, "-F", "comm,event"])
    #expect(script.status == 0, "\(script.stderr)")
    let samples = script.stdout.split(separator: "\n").filter { $0.contains("cpu-clock") }.count
    #expect(samples > 10, "perf script reads the samples written before SIGKILL")
    let report = try TestSupport.run(Self.sonde, ["report", "-i", file, "--no-children", "--sort", "sym"])
    #expect(report.status == 0, "\(report.stderr)")
    #expect(report.stdout.contains("# Samples: \(samples) "), "sonde report reads the same samples as perf")
    #expect(report.stdout.contains("burn"))
  }

  @Test func aFullDiskStopsTheRecordingWithAnErrorAndAReadableFile() throws {
    let dir = try TestSupport.temporaryDirectory("enospc")
    defer {
      _ = try? TestSupport.run("umount", [dir])
      try? FileManager.default.removeItem(atPath: dir)
    }
    // A 64 KiB tmpfs: the recording fills it within a second.
    let mounted = try TestSupport.run("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", dir])
    try #require(mounted.status == 0, "mounting a tmpfs needs root: \(mounted.stderr)")
    let file = dir + "/full.data"
    let r = try TestSupport.run(
      Self.sonde, ["record", "-F", "999", "-g", "-o", file, "--", Self.demo, "shares", "2000"])
    #expect(r.status == 1, "\(r.stderr)")
    #expect(r.stderr.contains("no space left") && r.stderr.contains("ENOSPC"), "\(r.stderr)")
    let head = try #require(FileHandle(forReadingAtPath: file)?.readData(ofLength: 8))
    #expect(String(decoding: head, as: UTF8.self) == "PERFILE2", "the header was written first")
    let report = try TestSupport.run(Self.sonde, ["report", "-i", file, "--sort", "sym"])
    #expect(report.status == 0, "\(report.stderr)")
    #expect(!report.stdout.contains("# Samples: 0 "), "the records written before the disk filled are read")
    #expect(try TestSupport.run("pgrep", ["-f", "\(Self.demo) shares 2000"]).status != 0, "the command was ended")
  }

  @Test(arguments: [("exit 3", Int32(3)), ("kill -SEGV $$", Int32(139)), ("exit 0", Int32(0))])
  func recordExitsWithTheCommandsStatus(_ script: String, _ expected: Int32) throws {
    let dir = try TestSupport.temporaryDirectory("status")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let r = try TestSupport.run(Self.sonde, ["record", "-o", dir + "/s.data", "--", "sh", "-c", script])
    #expect(r.status == expected, "\(script): \(r.stderr)")
    #expect(r.stderr.contains("Captured and wrote"), "the file is written whatever the command's status")
  }

  @Test func aCommandEndedAtDurationIsNotAFailure() throws {
    let dir = try TestSupport.temporaryDirectory("duration")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let r = try TestSupport.run(
      Self.sonde, ["record", "--duration", "0.3", "-o", dir + "/d.data", "--", "sleep", "10"])
    #expect(r.status == 0, "\(r.stderr)")
  }

  @Test(arguments: [
    ["record", "-p", "1", "--", "true"], ["record", "-a", "-p", "1"], ["record", "-C", "0", "-p", "1"],
    ["record", "-F", "0", "--", "true"], ["record", "-c", "0", "--", "true"], ["record", "--duration", "nan", "-a"],
    ["record", "--duration", "inf", "-a"], ["record", "--duration", "1e308", "-a"],
    ["record", "-F", "-5", "--", "true"],
    ["record", "-C", "", "--duration", "1"], ["record", "-m", "3", "--", "true"], ["record", "-o", "", "--", "true"],
    ["record", "-C", "0-4000000000", "--duration", "1"], ["report", "--pid", "abc"], ["report", "-o", "f"],
    ["report", "-s", ""], ["report", "--limit", "0"], ["report", "--limit", "-3"], ["stat", "-x", "", "--", "true"],
    ["stat", "-r", "0", "--", "true"], ["stat", "-p", "1", "--", "true"], ["stat", "-a", "-p", "1"],
  ])
  func badFlagsGetAClearErrorAndANonZeroExit(_ arguments: [String]) throws {
    let dir = try TestSupport.temporaryDirectory("flags")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let r = try BoundedRun.run([Self.sonde] + arguments, timeoutSeconds: 20, stdoutLimitBytes: 1 << 20)
    #expect(r.status != nil && r.status != 0, "\(arguments): \(r)")
    #expect(r.stderr.lowercased().contains("error"), "\(arguments): \(r.stderr)")
    #expect(!r.stderr.contains("Missing value"), "a negative number is a bad value, not a missing one: \(r.stderr)")
  }

  @Test func anIntervalBeyondTwentyFourDaysIsWaitedNotTrapped() throws {
    let r = try BoundedRun.run(
      [Self.sonde, "stat", "-I", "3000000000", "-e", "task-clock", "--", "true"], timeoutSeconds: 20,
      stdoutLimitBytes: 1 << 20)
    #expect(r.status == 0, "\(r)")
  }

  @Test func recordAllCPUsWithACommandSamplesWhileTheCommandRuns() throws {
    let dir = try TestSupport.temporaryDirectory("a-cmd")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let file = dir + "/a.data"
    let r = try TestSupport.run(
      Self.sonde, ["record", "-a", "-F", "499", "-o", file, "--", Self.demo, "selfshares", "300"])
    #expect(r.status == 0, "\(r.stderr)")
    let report = try TestSupport.run(Self.sonde, ["report", "-i", file, "--sort", "comm,sym", "--no-children"])
    #expect(report.stdout.contains("self_hot"), "the command's samples are in the system-wide recording")
  }

  /// Runs `argv` as user nobody with no capabilities (paranoid 2 on this machine, as on most distributions).
  static func asNobody(_ argv: [String]) throws -> TestSupport.Output {
    try TestSupport.run(
      "setpriv", ["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--inh-caps=-all"] + argv)
  }

  @Test func anUnprivilegedUserGetsUserSpaceCountsAndPlainReasons() throws {
    let paranoid =
      Int(
        try String(contentsOfFile: "/proc/sys/kernel/perf_event_paranoid", encoding: .utf8)
          .trimmingCharacters(in: .whitespacesAndNewlines)) ?? 2
    if paranoid >= 2 {
      // perf's fallback: kernel counting is refused, so count user space only, and say so.
      let stat = try Self.asNobody([Self.sonde, "stat", "-e", "task-clock", "--", Self.demo, "getpid", "10"])
      #expect(stat.status == 0, "\(stat.stderr)")
      #expect(stat.stderr.contains("task-clock counted user space only"), "\(stat.stderr)")
      #expect(stat.stderr.contains("msec task-clock"))
    }
    // tracefs is mounted but closed to nobody: that is a permission problem, not a missing mount.
    let trace = try Self.asNobody([Self.sonde, "stat", "-e", "syscalls:sys_enter_getpid", "--", "true"])
    #expect(trace.status == 1)
    #expect(trace.stderr.contains("tracefs is mounted at") && !trace.stderr.contains("not mounted"), "\(trace.stderr)")
    // kallsyms shows zeros to this user: say so instead of printing [unknown].
    let kernel = try Self.asNobody([Self.sonde, "symbolize", "--kernel", "0xffffffff81000000"])
    #expect(kernel.status == 1, "\(kernel.stdout)")
    #expect(kernel.stderr.contains("hides symbol addresses"), "\(kernel.stderr)")
  }

  @Test func aTruncatedELFsErrorNamesTheFile() throws {
    let dir = try TestSupport.temporaryDirectory("truncated-elf")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let path = dir + "/truncated-binary"
    let whole = try Data(contentsOf: URL(fileURLWithPath: Self.demo))
    try whole.prefix(200).write(to: URL(fileURLWithPath: path))
    let r = try TestSupport.run(Self.sonde, ["symbolize", "-e", path, "0x1000"])
    #expect(r.status == 1)
    #expect(r.stderr.contains(path), "\(r.stderr)")
  }
}
