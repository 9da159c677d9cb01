/// Mean and standard deviation of repeated measurements (Welford's method), reported the way perf stat
/// `-r` does: the relative standard deviation of the mean, `100 × sqrt(variance / n) / mean`.
public struct RunningStatistics: Sendable, Hashable {
  public private(set) var count = 0
  public private(set) var mean = 0.0
  private var m2 = 0.0

  public init() {}

  public mutating func add(_ value: Double) {
    count += 1
    let delta = value - mean
    mean += delta / Double(count)
    m2 += delta * (value - mean)
  }

  /// Sample variance (n − 1 denominator).
  public var variance: Double { count > 1 ? m2 / Double(count - 1) : 0 }

  /// Standard deviation of the mean.
  public var standardErrorOfMean: Double { count > 0 ? (variance / Double(count)).squareRoot() : 0 }

  /// Relative standard deviation of the mean in percent (0 when the mean is 0).
  public var relativeErrorPercent: Double { mean != 0 ? 100 * standardErrorOfMean / abs(mean) : 0 }
}
