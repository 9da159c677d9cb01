/// Sums of counts and weights that come from files and the kernel saturate at `UInt64.max` instead of
/// trapping: a perf.data file with two samples of period 2^63 must give a report (a share of 100%), not
/// a crash. Where a saturated value is printed, it reads as the largest count, which is honest.
extension UInt64 {
  /// `self + other`, or `UInt64.max` when the sum does not fit.
  @inlinable public func saturatingAdd(_ other: UInt64) -> UInt64 {
    let (sum, overflow) = addingReportingOverflow(other)
    return overflow ? .max : sum
  }

  /// `self × other`, or `UInt64.max` when the product does not fit.
  @inlinable public func saturatingMultiply(_ other: UInt64) -> UInt64 {
    let (product, overflow) = multipliedReportingOverflow(by: other)
    return overflow ? .max : product
  }

  /// `self - other`, or 0 when `other` is larger (a counter read again after it was reset or its thread
  /// exited).
  @inlinable public func saturatingSubtracting(_ other: UInt64) -> UInt64 { self >= other ? self - other : 0 }

  /// Adds `other` in place, saturating at `UInt64.max`.
  @inlinable public static func +|= (lhs: inout UInt64, rhs: UInt64) {
    lhs = lhs.saturatingAdd(rhs)
  }
}

infix operator +|= : AssignmentPrecedence
