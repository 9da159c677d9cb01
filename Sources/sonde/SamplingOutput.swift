#if canImport(Glibc)
  import Glibc
#endif

/// Writes a line to standard error (progress and warnings of record/report/script; stdout carries
/// the report itself).
func samplingStatus(_ text: String) { writeText(text + "\n", to: standardError) }
