@testable import SondeBPFEngines
import Testing

/// The histogram's buckets as bpftrace draws them, and the buckets its percentiles fall in.
struct LatencyHistogramTests {
  func histogram(_ buckets: [Int: UInt64], linear: TraceOptions.Histogram.Linear? = nil) -> LatencyHistogram {
    LatencyHistogram(
      group: "", unit: .milliseconds, linear: linear, buckets: buckets, count: buckets.values.reduce(0, +),
      totalNanoseconds: 0)
  }

  @Test func log2BucketsHoldZeroOneThenPowersOfTwo() {
    let h = histogram([:])
    #expect(h.range(ofBucket: 0) == (0, 1))
    #expect(h.range(ofBucket: 1) == (1, 2))
    #expect(h.range(ofBucket: 4) == (8, 16))
    #expect(h.range(ofBucket: 64).upper == nil)
  }

  @Test func linearBucketsHaveAnUnderAndAnOverflow() {
    let h = histogram([:], linear: .init(low: 10, high: 40, step: 10))
    #expect(h.range(ofBucket: 0) == (0, 10))
    #expect(h.range(ofBucket: 1) == (10, 20))
    #expect(h.range(ofBucket: 3) == (30, 40))
    #expect(h.range(ofBucket: 4).lower == 40 && h.range(ofBucket: 4).upper == nil)
  }

  @Test func percentilesFallInTheBucketHoldingTheirRank() {
    // 90 intervals in [8, 16), 9 in [16, 32), 1 in [64, 128).
    let h = histogram([4: 90, 5: 9, 7: 1])
    #expect(h.quantileBucket(0.5) == 4)
    #expect(h.quantileBucket(0.9) == 4)
    #expect(h.quantileBucket(0.95) == 5)
    #expect(h.quantileBucket(0.99) == 5)
    #expect(h.quantileBucket(1.0) == 7)
    #expect(histogram([:]).quantileBucket(0.5) == 0)
  }
}
