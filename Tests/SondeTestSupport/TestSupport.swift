import Foundation

/// Helpers shared by Sonde's test targets: where the built products are, and running programs (the CLI
/// under test and oracle tools such as perf) to completion with their output captured.
public enum TestSupport {
  /// The build's bin directory (`.build/debug`), derived from the running test executable.
  public static let binDirectory: String = {
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    var url = URL(fileURLWithPath: exe).deletingLastPathComponent()
    for _ in 0..<4 {
      if FileManager.default.isExecutableFile(atPath: url.appendingPathComponent("sonde").path) { return url.path }
      url = url.deletingLastPathComponent()
    }
    return url.path
  }()

  /// The built `sonde` CLI.
  public static var sonde: String { binDirectory + "/sonde" }
  /// The bundled demo workload.
  public static var demo: String { binDirectory + "/sonde-demo" }

  /// What a finished program left behind.
  public struct Output: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
  }

  /// Runs a program to completion, capturing stdout and stderr.
  /// `executable` is a path, or a program name looked up on PATH.
  public static func run(
    _ executable: String, _ arguments: [String], input: String? = nil, environment: [String: String]? = nil,
    cwd: String? = nil
  ) throws -> Output {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable.contains("/") ? executable : "/usr/bin/env")
    process.arguments = executable.contains("/") ? arguments : [executable] + arguments
    if let cwd { process.currentDirectoryURL = URL(fileURLWithPath: cwd) }
    if let environment { process.environment = environment }
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    let inputPipe = Pipe()
    process.standardInput = input == nil ? FileHandle.nullDevice : inputPipe
    try process.run()
    if let input {
      let data = Data(input.utf8)
      DispatchQueue.global().async {
        inputPipe.fileHandleForWriting.write(data)
        try? inputPipe.fileHandleForWriting.close()
      }
    }
    // Drain stderr on another thread so neither pipe can fill and block the child.
    nonisolated(unsafe) var errData = Data()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async {
      errData = err.fileHandleForReading.readDataToEndOfFile()
      group.leave()
    }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    process.waitUntilExit()
    return Output(
      status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
      stderr: String(decoding: errData, as: UTF8.self))
  }

  /// The absolute path of a tool on PATH, if installed.
  public static func tool(_ name: String) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    for directory in path.split(separator: ":").map(String.init) + ["/usr/bin", "/usr/sbin", "/opt/swift/usr/bin"]
    where FileManager.default.isExecutableFile(atPath: directory + "/" + name) {
      return directory + "/" + name
    }
    return nil
  }

  /// A fresh temporary directory (the caller removes it).
  public static func temporaryDirectory(_ name: String) throws -> String {
    let path = NSTemporaryDirectory() + "sonde-\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
  }
}

extension TestSupport {
  /// A helper's failure, with what went wrong.
  public struct Failure: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
  }
}
