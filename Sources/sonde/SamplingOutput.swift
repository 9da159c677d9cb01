#if canImport(Glibc)
  import Glibc
#endif

/// Writes a line to standard error (progress and warnings of record/report/script; stdout carries
/// the report itself).
func samplingStatus(_ text: String) { writeText(text + "\n", to: standardError) }

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
