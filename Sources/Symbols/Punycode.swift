/// Punycode (RFC 3492) as Rust's v0 mangling uses it for non-ASCII identifiers.
enum Punycode {
  /// Decodes RFC 2603's Punycode variant: `_` separates the ASCII part, and digits are written `A`–`J`.
  static func decodeRustIdentifier(_ raw: [UInt8]) -> String? {
    var basic: [UInt32] = []
    var encoded = raw[...]
    if let separator = raw.lastIndex(of: UInt8(ascii: "_")) {
      basic = raw[..<separator].map(UInt32.init)
      encoded = raw[(separator + 1)...]
    }
    guard !encoded.isEmpty else { return nil }
    var output = basic
    let base: UInt32 = 36
    let tMin: UInt32 = 1
    let tMax: UInt32 = 26
    var n: UInt32 = 128
    var bias: UInt32 = 72
    var i: UInt32 = 0
    var iterator = encoded.makeIterator()
    var pending = iterator.next()
    while pending != nil {
      let oldI = i
      var w: UInt32 = 1
      var k = base
      while true {
        guard let c = pending else { return nil }
        pending = iterator.next()
        let digit: UInt32
        switch c {
        case UInt8(ascii: "a")...UInt8(ascii: "z"): digit = UInt32(c - UInt8(ascii: "a"))
        case UInt8(ascii: "A")...UInt8(ascii: "J"): digit = UInt32(c - UInt8(ascii: "A")) + 26
        default: return nil
        }
        let (product, o1) = digit.multipliedReportingOverflow(by: w)
        let (sum, o2) = i.addingReportingOverflow(product)
        guard !o1, !o2 else { return nil }
        i = sum
        let t = k <= bias ? tMin : (k >= bias + tMax ? tMax : k - bias)
        if digit < t { break }
        let (nextW, o3) = w.multipliedReportingOverflow(by: base - t)
        guard !o3 else { return nil }
        w = nextW
        k += base
      }
      let length = UInt32(output.count + 1)
      bias = adapt(i - oldI, length, oldI == 0)
      let (nextN, o4) = n.addingReportingOverflow(i / length)
      guard !o4 else { return nil }
      n = nextN
      i %= length
      guard output.count < 4096 else { return nil }
      output.insert(n, at: Int(i))
      i += 1
    }
    var text = ""
    for value in output {
      guard let scalar = UnicodeScalar(value) else { return nil }
      text.unicodeScalars.append(scalar)
    }
    return text
  }

  private static func adapt(_ delta: UInt32, _ count: UInt32, _ first: Bool) -> UInt32 {
    var delta = first ? delta / 700 : delta / 2
    delta += delta / count
    var k: UInt32 = 0
    while delta > ((36 - 1) * 26) / 2 {
      delta /= 36 - 1
      k += 36
    }
    return k + (36 * delta) / (delta + 38)
  }
}
