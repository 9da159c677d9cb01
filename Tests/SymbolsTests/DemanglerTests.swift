import Foundation
import SondeTestSupport
import Testing

@testable import Symbols
import SondeSystem

@Suite struct DemanglerTests {
  @Test func schemeIsDecidedByPrefix() {
    #expect(ManglingScheme.of("$s4main3FooV3baryyF") == .swift)
    #expect(ManglingScheme.of("_$s4main3FooV3baryyF") == .swift)
    #expect(ManglingScheme.of("_T0Si") == .swift)
    #expect(ManglingScheme.of("_ZN3foo3barEv") == .itanium)
    #expect(ManglingScheme.of("_Z3fooi") == .itanium)
    #expect(ManglingScheme.of("_ZN4core3ptr13drop_in_place17h0123456789abcdefE") == .rustLegacy)
    #expect(ManglingScheme.of("_RNvC7mycrate3foo") == .rustV0)
    #expect(ManglingScheme.of("malloc") == .none)
    #expect(ManglingScheme.of("_start") == .none)
  }

  @Test func namesOfNoSchemeAreLeftAlone() {
    #expect(Demangler().demangle("malloc") == nil)
    #expect(Demangler().demangle("_Z") == nil)
    #expect(Demangler().displayName("main") == "main")
  }

  /// RFC 2603 Appendix B and guide-level examples, with the RFC's unmangled forms.
  @Test(arguments: [
    ("_RNvNtNtCs1234_7mycrate3foo3bar3baz", "mycrate::foo::bar::baz"),
    ("_RNvNvMCs1234_7mycrateINtCs1234_7mycrate3FoopE3bar4QUUX", "<mycrate::Foo<_>>::bar::QUUX"),
    (
      "_RNvNvXCs1234_7mycrateINtCs1234_7mycrate3FoopENtNtC3std5clone5Clone5clone4QUUX",
      "<mycrate::Foo<_> as std::clone::Clone>::clone::QUUX"
    ),
    ("_RNvNvCs1234_7mycrate4QUUX3FOO", "mycrate::QUUX::FOO"),
    ("_RINvNtC3std3mem8align_ofdE", "std::mem::align_of::<f64>"),
    ("_RINvNtC3std3mem8align_ofjE", "std::mem::align_of::<usize>"),
    ("_RINvNtC3std3mem8align_ofRcE", "std::mem::align_of::<&char>"),
    ("_RINvNtC3std3mem8align_ofNtNtC3std3mem12DiscriminantE", "std::mem::align_of::<std::mem::Discriminant>"),
    ("_RINvNtC3std3mem8align_ofQTReuEE", "std::mem::align_of::<&mut (&str, ())>"),
    ("_RINvNtC3std3mem8align_ofjEC3foo", "std::mem::align_of::<usize>"),
    ("_RNvNtNtC7mycrateu8gdel_Fqa6escher4bach", "mycrate::gödel::escher::bach"),
    (
      "_RNvNvXs2_C7mycrateINtC7mycrate3FoopEINtNtC3std7convert4FrompE4from3MSG",
      "<mycrate::Foo<_> as std::convert::From<_>>::from::MSG"
    ),
    // Closures (RFC "Closures and Closure Environments"): NC…0 and NC…s_0.
    ("_RNCNvNtC7mycrate3foo3bar0", "mycrate::foo::bar::{closure#0}"),
    ("_RNCNvNtC7mycrate3foo3bars_0", "mycrate::foo::bar::{closure#1}"),
  ])
  func rustV0MatchesTheRFC(mangled: String, expected: String) {
    #expect(Demangler().demangle(mangled) == expected)
  }

  /// The RFC's Punycode table: føø, α_ω, 铁锈, 🤦, ρυστ.
  @Test(arguments: [
    ("f_Fgaa", "føø"), ("__ylbHe", "α_ω"), ("nIEamf", "铁锈"), ("fqJh", "🤦"), ("Cxaedc", "ρυστ"),
  ])
  func rustV0PunycodeMatchesTheRFCTable(encoded: String, expected: String) {
    let separator = encoded.first == "_" ? "_" : ""
    let mangled = "_RNvC7mycrateu\(encoded.utf8.count)\(separator)\(encoded)"
    #expect(Demangler().demangle(mangled) == "mycrate::\(expected)")
  }

  @Test func rustV0HandlesBackReferencesTypesAndSuffixes() {
    let d = Demangler()
    #expect(d.demangle("_RNCNCNgCs6DXkGYLi8lr_2cc5spawn00B5_") == "cc::spawn::{closure#0}::{closure#0}")
    #expect(
      d.demangle("_RINbNbCskIICzLVDPPb_5alloc5alloc8box_freeDINbNiB4_5boxed5FnBoxuEp6OutputuEL_ECs1iopQbuBiw2_3std")
        == "alloc::alloc::box_free::<dyn alloc::boxed::FnBox<(), Output = ()>>")
    #expect(d.demangle("_RNvC6_123foo3bar") == "123foo::bar")
    #expect(d.demangle("_RINvC1a1fFG_RL0_hEuE") == "a::f::<for<'a> fn(&'a u8)>")
    #expect(d.demangle("_RINvC1a1fFKCjEuE") == "a::f::<extern \"C\" fn(usize)>")
    #expect(d.demangle("_RINvC1a1fAhj11_E") == "a::f::<[u8; 17]>")
    #expect(d.demangle("_RINvC1a1fKb1_E") == "a::f::<true>")
    #expect(d.demangle("_RNvC4test3foo.llvm.1234") == "test::foo")
  }

  @Test func rustV0RejectsMalformedNamesWithoutCrashing() {
    let d = Demangler()
    for bad in ["_R", "_RX", "_RNvC", "_RNvC99foo3bar", "_RB_", "_RNvB0_3foo", "_RINvC1a1fAhj11", "_RC3foo3bar"] {
      #expect(d.demangle(bad) == nil, "\(bad)")
    }
    // A chain of 100,000 back-references, each pointing at the one before, overflowed the stack; it is cut
    // off by the same depth limit as the grammar's own nesting.
    #expect(d.demangle(Self.backReferenceChain(100_000)) == nil)
    #expect(d.demangle(Self.backReferenceChain(5)) == "j1_B4_B7_Ba_Bd_::<1>")
    // A back-reference cycle must not recurse forever.
    #expect(d.demangle("_RNvNvB0_1a1b") == nil)
    // Nested back-references that double the output at each level are cut off, not expanded 2^40 times:
    // generic arguments T1 = (u32, u32), Tk = (T(k-1), T(k-1)) written as two back-references.
    var body = "INvC1a1f"
    var previous = body.count
    body += "TmmE"
    for _ in 0..<40 {
      let here = body.count
      body += "TB\(Self.base62(previous))B\(Self.base62(previous))E"
      previous = here
    }
    let start = ContinuousClock.now
    #expect(d.demangle("_R" + body + "E") == nil)
    #expect(ContinuousClock.now - start < .seconds(2))
  }

  /// rustc legacy manglings (hash dropped by default, kept on request).
  @Test func rustLegacyDecodesEscapesAndHash() {
    let d = Demangler()
    #expect(d.demangle("_ZN4core3ptr13drop_in_place17h0123456789abcdefE") == "core::ptr::drop_in_place")
    #expect(
      Demangler(includeRustHash: true).demangle("_ZN4core3ptr13drop_in_place17h0123456789abcdefE")
        == "core::ptr::drop_in_place::h0123456789abcdef")
    #expect(
      d.demangle("_ZN71_$LT$Test$u20$$u2b$$u20$$u27$static$u20$as$u20$foo..Bar$LT$Test$GT$$GT$3bar17h930b740aa94f1d3aE")
        == "<Test + 'static as foo::Bar<Test>>::bar")
    #expect(
      d.demangle("_ZN47_$LT$std..fs..File$u20$as$u20$std..io..Read$GT$4read17hbd04a14e3c9ab57bE")
        == "<std::fs::File as std::io::Read>::read")
    #expect(
      d.demangle("_ZN3std2rt10lang_start28_$u7b$$u7b$closure$u7d$$u7d$17h0123456789abcdefE")
        == "std::rt::lang_start::{{closure}}")
  }

  /// Itanium names from libstdc++'s own dynamic symbol table, compared with c++filt.
  @Test func cxxAgreesWithCxxfilt() throws {
    guard let cxxfilt = TestSupport.tool("c++filt"),
      let libstdcxx = ["/usr/lib/x86_64-linux-gnu/libstdc++.so.6"]
        .first(where: FileManager.default.fileExists(atPath:))
    else {
      Issue.record("c++filt or libstdc++ missing (setup.sh installs binutils)")
      return
    }
    let names = try Support.nmFunctions(libstdcxx, dynamic: true).map(\.2).filter { $0.hasPrefix("_Z") }
    #expect(names.count > 500)
    let sample = Array(names.prefix(2000))
    let (_, output) = try Support.run(cxxfilt, [], input: sample.joined(separator: "\n") + "\n")
    let expected = output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    var mismatches: [String] = []
    for (index, name) in sample.enumerated() where index < expected.count {
      let ours = Demangler().displayName(name)
      if ours != expected[index] { mismatches.append("\(name): \(ours) vs \(expected[index])") }
    }
    #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
  }

  /// Every `$s` symbol of the test-built Swift fixture demangles to exactly what `swift demangle` prints.
  @Test func swiftAgreesWithSwiftDemangle() throws {
    let fixture = try Support.swiftFixture.get()
    guard let swiftDemangle = TestSupport.tool("swift-demangle") else {
      Issue.record("swift-demangle missing from the toolchain")
      return
    }
    guard let nm = TestSupport.tool("nm") else { return }
    let (_, symbols) = try Support.run(nm, ["--defined-only", fixture])
    let names = symbols.split(separator: "\n").compactMap { line -> String? in
      guard let name = line.split(separator: " ").last, name.hasPrefix("$s") else { return nil }
      return String(name)
    }
    #expect(names.count > 50)
    let (_, output) = try Support.run(swiftDemangle, [], input: names.joined(separator: "\n") + "\n")
    let expected = output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    var mismatches: [String] = []
    var demangled: [String] = []
    for (index, name) in names.enumerated() where index < expected.count {
      let ours = Demangler().displayName(name)
      demangled.append(ours)
      if ours != expected[index] { mismatches.append("\(name): \(ours) vs \(expected[index])") }
    }
    #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
    // The fixture exercises the constructs the acceptance names: structs, classes, generics, closures.
    #expect(demangled.contains { $0.contains("Fixture.Point.manhattan() -> Swift.Int") })
    #expect(demangled.contains { $0.contains("Fixture.Dog.speak() -> Swift.String") })
    #expect(demangled.contains { $0.contains("Fixture.Box.map<A>") })
    #expect(demangled.contains { $0.hasPrefix("closure #1 (") && $0.hasSuffix(" in Fixture.work() -> Swift.Int") })
    #expect(demangled.contains { $0.contains("[Swift.Int]") })
  }

  @Test func swiftSimplifiedModeDropsModulesAndNoise() throws {
    let simple = Demangler(simplifySwift: true)
    let manhattan = try #require(simple.demangle("$s7Fixture5PointV9manhattanSiyF"))
    #expect(manhattan.hasPrefix("Point.manhattan()"))
    let sum = try #require(simple.demangle("$s7Fixture3sumyxSayxGSjRzlF"))
    #expect(!sum.contains("Swift."))
    #expect(!sum.contains("Fixture."))
    // With the toolchain installed, the simplified form is exactly `swift demangle --simplified`.
    if let tool = TestSupport.tool("swift-demangle") {
      let names = ["$s7Fixture5PointV9manhattanSiyF", "$s7Fixture3sumyxSayxGSjRzlF", "$s7Fixture3DogC5speakSSyF"]
      let (_, output) = try Support.run(tool, ["--simplified"], input: names.joined(separator: "\n") + "\n")
      let expected = output.split(separator: "\n").map(String.init)
      #expect(names.map { simple.displayName($0) } == expected)
    }
  }

  /// Without the toolchain's libswiftDemangle the simplified form comes from the runtime's text.
  @Test func swiftTextualSimplificationDropsTheSymbolsModule() throws {
    #expect(SwiftRuntimeDemangler.moduleName(of: "$s7Fixture5PointV9manhattanSiyF") == "Fixture")
    #expect(SwiftRuntimeDemangler.moduleName(of: "$sSa6appendyyxnF") == nil)
    let full = try #require(Demangler().demangle("$s7Fixture3sumyxSayxGSjRzlF"))
    let simple = SwiftRuntimeDemangler.simplify(full, module: "Fixture")
    #expect(simple == "sum<A>([A]) -> A")
    #expect(
      SwiftRuntimeDemangler.simplify("MyFixture.Fixture.f() -> ()", module: "Fixture") == "MyFixture.Fixture.f() -> ()")
  }

  @Test func swiftSugarMatchesTheCompilerSpelling() {
    #expect(
      SwiftSugar.apply("Swift.Array<Swift.Optional<(Swift.Int) -> Swift.Int>>") == "[((Swift.Int) -> Swift.Int)?]")
    #expect(SwiftSugar.apply("Swift.Dictionary<Swift.String, Swift.Array<A>>") == "[Swift.String : [A]]")
    #expect(SwiftSugar.apply("MySwift.Array<A>") == "MySwift.Array<A>")
    #expect(SwiftSugar.apply("Swift.Array.append(A) -> ()") == "Swift.Array.append(A) -> ()")
  }

  @Test func cliDemanglesEachSchemeAndReportsIt() throws {
    let lines = try Support.symbolizeJSON([
      "--demangle", "$s7Fixture5PointV9manhattanSiyF", "_ZNSt6vectorIiSaIiEE9push_backERKi", "_RNvC7mycrate3foo",
      "plain",
    ])
    #expect(lines.map { $0["scheme"] as? String } == ["swift", "itanium", "rustV0", "none"])
    #expect(lines[0]["demangled"] as? String == "Fixture.Point.manhattan() -> Swift.Int")
    #expect(lines[1]["demangled"] as? String == "std::vector<int, std::allocator<int> >::push_back(int const&)")
    #expect(lines[2]["demangled"] as? String == "mycrate::foo")
    #expect(lines[3]["demangled"] is NSNull)
  }

  /// A Rust v0 base-62 number: "_" is 0, otherwise the digits of value - 1 and "_".
  static func base62(_ value: Int) -> String {
    guard value > 0 else { return "_" }
    var v = value - 1
    let digits = Array("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    var text = ""
    repeat {
      text = String(digits[v % 62]) + text
      v /= 62
    } while v > 0
    return text + "_"
  }

  /// `_RIC<n>_<payload>KB<last>_E`: a crate named by the payload, whose bytes are also a chain of constant
  /// back-references (`j1_` then `B<previous>_` …), and one generic constant argument referring to the last.
  static func backReferenceChain(_ links: Int) -> String {
    func payload(lengthGuess: Int) -> (String, Int) {
      var position = 2 + String(lengthGuess).count + 1  // after "IC<n>_" (positions count from after "_R")
      var entries = ["j1_"]
      var last = position
      for _ in 1..<links {
        last = position
        position += entries[entries.count - 1].count
        entries.append("B" + base62(last))
        last = position
      }
      return (entries.joined(), last)
    }
    var length = 1
    for _ in 0..<5 { length = payload(lengthGuess: length).0.count }
    let (text, last) = payload(lengthGuess: length)
    return "_RIC\(text.count)_" + text + "KB" + base62(last) + "E"
  }
}

/// Names in perf-compatible output (report, script) follow perf's demangling style.
struct PerfStyleNameTests {
  @Test func cxxNamesLoseTheirParameterListsAsPerfPrintsThem() {
    let d = Demangler()
    // Oracle: perf script prints this libswiftCore symbol as `swift::initializeDynamicReplacementLookup`.
    #expect(
      d.perfName("_ZN5swift34initializeDynamicReplacementLookupEv") == "swift::initializeDynamicReplacementLookup")
    #expect(
      d.displayName("_ZN5swift34initializeDynamicReplacementLookupEv") == "swift::initializeDynamicReplacementLookup()")
    // A const member function of a template: the template arguments stay, `(…) const` goes.
    #expect(d.perfName("_ZNK3FooIiE3barEPKc") == "Foo<int>::bar")
    #expect(d.perfName("plain_c_function") == "plain_c_function")
    // Swift, short as profilers show it: no module, no parameter or result types (swift demangle --simplified).
    #expect(d.perfName("$s11SwiftShares6MatrixV6reduce6roundss6UInt64VSi_tF") == "Matrix.reduce(rounds:)")
    #expect(
      d.perfName("$s11SwiftShares8ChecksumO4fold_4seeds6UInt64VSi_AGtFZTf4nnd_n")
        == "specialized static Checksum.fold(_:seed:)")
  }
}
