#if canImport(Glibc)
  import Glibc
#endif

/// Writes a line to standard error (progress and warnings of record/report/script; stdout carries
/// the report itself).
func samplingStatus(_ text: String) {
  let line = Array((text + "\n").utf8)
  line.withUnsafeBytes { _ = write(2, $0.baseAddress, $0.count) }
}

/// A number with exactly `digits` decimals (no Foundation).
func samplingFixed(_ value: Double, _ digits: Int) -> String {
  var scale = 1.0
  for _ in 0..<digits { scale *= 10 }
  let rounded = (abs(value) * scale).rounded()
  let whole = Int(rounded / scale)
  let fraction = Int(rounded) - whole * Int(scale)
  var frac = String(fraction)
  while frac.count < digits { frac = "0" + frac }
  return (value < 0 && rounded != 0 ? "-" : "") + (digits > 0 ? "\(whole).\(frac)" : "\(whole)")
}
