/// Sources of the programs the tests build and symbolize. Changing them changes their cache hash.
enum FixtureSources {
  /// A Swift program with structs, classes, generics, closures and protocols (for demangling), and a
  /// `serve LIB` mode that dlopen()s LIB, prints addresses of known functions, and waits for stdin to close.
  static let swiftProgram = #"""
    #if canImport(Glibc)
    import Glibc
    #endif

    public struct Point: Hashable {
      public var x: Int
      public var y: Int
      @inline(never) public func manhattan() -> Int { abs(x) + abs(y) }
      @inline(never) public mutating func translate(by other: Point) { x += other.x; y += other.y }
    }

    public final class Box<Value> {
      public var value: Value
      public init(_ value: Value) { self.value = value }
      @inline(never) public func map<Other>(_ transform: (Value) -> Other) -> Box<Other> { Box<Other>(transform(value)) }
    }

    public protocol Shape { func area() -> Double }
    public struct Square: Shape { public var side: Double; public func area() -> Double { side * side } }
    public enum Token { case number(Int), word(String) }

    public class Animal { public func speak() -> String { "..." }; public init() {} }
    public final class Dog: Animal { public override func speak() -> String { "woof" } }

    @inline(never) public func sum<T: Numeric>(_ values: [T]) -> T { values.reduce(0, +) }

    @inline(never) public func describe(_ token: Token) -> String {
      switch token {
      case .number(let n): return "n\(n)"
      case .word(let w): return w
      }
    }

    @_cdecl("sonde_fixture_marker")
    @inline(never) public func sondeFixtureMarker() -> Int32 { 42 }

    @inline(never) func work() -> Int {
      var p = Point(x: 3, y: -4)
      p.translate(by: Point(x: 1, y: 1))
      let box = Box(p).map { $0.manhattan() }.map { value in [value, value * 2].map { $0 + 1 } }
      let shapes: [any Shape] = [Square(side: 2)]
      let animals: [Animal] = [Animal(), Dog()]
      return box.value.count + sum([1, 2, 3]) + Int(shapes[0].area()) + describe(.word("x")).count
        + animals.map { $0.speak() }.count + Int(sum([1.5, 2.5]))
    }

    let arguments = CommandLine.arguments
    if arguments.count >= 3 && arguments[1] == "serve" {
      guard let library = dlopen(arguments[2], RTLD_NOW), let function = dlsym(library, "sonde_fixture_library_function")
      else { print("error dlopen"); exit(1) }
      let vdso = dlopen("linux-vdso.so.1", RTLD_NOW | RTLD_NOLOAD)
      let clock = vdso.flatMap { dlsym($0, "__vdso_clock_gettime") }
      let marker: @convention(c) () -> Int32 = sondeFixtureMarker
      let markerAddress = unsafeBitCast(marker, to: UInt.self)
      let libraryAddress = UInt(bitPattern: function)
      let clockAddress = UInt(bitPattern: clock)
      print(getpid(), String(markerAddress + 1, radix: 16), String(libraryAddress + 2, radix: 16),
        String(clockAddress + 1, radix: 16))
      fflush(stdout)
      while readLine() != nil {}
    } else {
      print(work())
    }
    """#

  /// The shared library the fixture dlopen()s.
  static let cLibrary = #"""
    int sonde_fixture_library_function(int a, int b) { return a * 31 + b; }
    int sonde_fixture_library_other(int a) { return a + 7; }
    """#
}
