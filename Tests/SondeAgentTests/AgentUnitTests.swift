import Testing

#if canImport(Glibc)
  import Glibc
#endif

@testable import SondeAgent

@Suite struct ProcessLabelsTests {
  @Test func cgroupPathIsTheUnifiedHierarchysLine() {
    let text = "12:cpu,cpuacct:/old\n0::/system.slice/nginx.service\n"
    #expect(ProcessLabels.cgroupV2Path(text) == "/system.slice/nginx.service")
    #expect(ProcessLabels.cgroupV2Path("1:name=systemd:/x\n") == nil)
  }

  @Test func containerIDsOfTheCommonRuntimes() {
    let id = String(repeating: "0123456789abcdef", count: 4)
    #expect(ProcessLabels.containerID(inCgroup: "/system.slice/docker-\(id).scope") == id)
    #expect(
      ProcessLabels.containerID(inCgroup: "/kubepods.slice/kubepods-pod1.slice/cri-containerd-\(id).scope") == id)
    #expect(ProcessLabels.containerID(inCgroup: "/docker/\(id)") == id)
    #expect(ProcessLabels.containerID(inCgroup: "/machine.slice/libpod-\(id).scope/container") == id)
    #expect(ProcessLabels.containerID(inCgroup: "/user.slice/user-0.slice/session-3.scope") == nil)
    // 63 hex digits is not an id.
    #expect(ProcessLabels.containerID(inCgroup: "/docker/\(id.dropLast())") == nil)
  }

  @Test func systemdUnitIsTheInnermostServiceOrScope() {
    #expect(ProcessLabels.systemdUnit(inCgroup: "/system.slice/nginx.service") == "nginx.service")
    #expect(ProcessLabels.systemdUnit(inCgroup: "/user.slice/user-0.slice/session-3.scope") == "session-3.scope")
    #expect(ProcessLabels.systemdUnit(inCgroup: "/") == nil)
  }

  @Test func readingThisProcess() {
    let me = ProcessLabels.read(pid: getpid(), comm: "x")
    #expect(me.exe.hasPrefix("/"))
  }
}

@Suite struct ProfileFilterTests {
  let nginx = ProcessLabels(
    pid: 42, comm: "nginx", exe: "/usr/sbin/nginx", cgroup: "/system.slice/nginx.service", unit: "nginx.service")
  let demo = ProcessLabels(pid: 7, comm: "sonde-demo", exe: "/build/sonde-demo")

  @Test func emptyAcceptsEverything() throws {
    let f = try ProfileFilter(parsing: "")
    #expect(f.isEmpty && f.accepts(nginx) && f.accepts(demo))
  }

  @Test func sameKeyTermsAreAlternativesOtherKeysMustAllHold() throws {
    let f = try ProfileFilter(parsing: "pid:42 pid:7")
    #expect(f.accepts(nginx) && f.accepts(demo))
    let g = try ProfileFilter(parsing: "pid:42 unit:nginx")
    #expect(g.accepts(nginx) && !g.accepts(demo))
    let h = try ProfileFilter(parsing: "demo")
    #expect(!h.accepts(nginx) && h.accepts(demo))
  }

  @Test func unknownKeysAndBadPidsAreErrors() {
    #expect(throws: ProfileFilterError.self) { try ProfileFilter(parsing: "color:red") }
    #expect(throws: ProfileFilterError.self) { try ProfileFilter(parsing: "pid:abc") }
  }
}

@Suite struct HTTPDateTests {
  /// The Date header is RFC 9110's IMF-fixdate, as in the RFC's own example.
  @Test func httpDatesAreIMFFixdate() {
    #expect(HTTPDate.format(secondsSinceEpoch: 784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT")
    #expect(HTTPDate.format(secondsSinceEpoch: 0) == "Thu, 01 Jan 1970 00:00:00 GMT")
  }
}

@Suite struct SharedFramesTests {
  /// A stack's frames are resolved once while any entry holds them, and forgotten with the last one.
  @Test func framesAreResolvedOnceAndForgottenWithTheirLastUser() {
    var shared = SharedFrames()
    var resolutions = 0
    let frames = [AgentFunction(name: "main", module: "demo", isKernel: false)]
    func retain(_ stack: Int64) -> [AgentFunction]? {
      shared.retain(stack) {
        resolutions += 1
        return stack == 99 ? nil : frames
      }
    }
    #expect(retain(1) == frames)
    #expect(retain(1) == frames)
    #expect(retain(2) == frames)
    #expect(retain(99) == nil)
    #expect(resolutions == 3)
    #expect(shared.count == 2)
    shared.release([1, 2])
    #expect(shared.count == 1)
    shared.release([1])
    #expect(shared.count == 0)
    #expect(retain(1) == frames)
    #expect(resolutions == 4)
  }
}
