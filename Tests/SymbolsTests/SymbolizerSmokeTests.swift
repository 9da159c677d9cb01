import Testing

@testable import Symbols

@Test func demanglerSchemeDispatchesByPrefix() {
  #expect(ManglingScheme.of("$s4main3FooV3baryyF") == .swift)
  #expect(ManglingScheme.of("_ZN3foo3barEv") == .itanium)
  #expect(ManglingScheme.of("_ZN4core3ptr13drop_in_place17h0123456789abcdefE") == .rustLegacy)
  #expect(ManglingScheme.of("_RNvC7mycrate3foo") == .rustV0)
  #expect(ManglingScheme.of("malloc") == .none)
}
