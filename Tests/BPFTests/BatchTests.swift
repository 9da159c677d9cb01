import BPF
import PerfEvents
import SondeBPFTestPrograms
import Testing
import SondeSystem

@Suite struct BatchTests {
  func filledTable(_ entries: Int) throws -> (BPFObject, BPFMap<UInt64, UInt64>) {
    let object = try OpenBPFObject(bytes: BPFTestProgramBytes.maps, name: "maps").load(only: [])
    let table = try object.map("table", key: UInt64.self, value: UInt64.self)
    for key in 0..<UInt64(entries) { try table.update(key, key * 3) }
    return (object, table)
  }

  @Test func batchLookupAndDeleteDrainsAHashOf100000Entries() throws {
    let (_, table) = try filledTable(100_000)
    let drained = try table.lookupAndDeleteBatch(batchSize: 4096)
    #expect(drained.count == 100_000)
    #expect(Set(drained.map(\.key)) == Set(0..<100_000))
    #expect(drained.allSatisfy { $0.value == $0.key * 3 })
    #expect(try table.keys().isEmpty)
    #expect(table.lastBatchStatistics.growths == 0)
  }

  @Test func aBatchSmallerThanABucketGrowsOnENOSPCAndStillDrainsEverything() throws {
    let (_, table) = try filledTable(100_000)
    let drained = try table.lookupAndDeleteBatch(batchSize: 1)
    #expect(drained.count == 100_000)
    #expect(Set(drained.map(\.key)).count == 100_000)
    #expect(table.lastBatchStatistics.growths >= 1)
    #expect(try table.lookup(42) == nil)
  }

  @Test func batchLookupReadsEverythingAndDeletesNothing() throws {
    let (_, table) = try filledTable(10_000)
    let entries = try table.lookupBatch(batchSize: 100)
    #expect(entries.count == 10_000)
    #expect(try table.lookup(9_999) == 29_997)
    #expect(try table.keys().count == 10_000)
  }

  @Test func singleElementOperationsAndIteration() throws {
    let (_, table) = try filledTable(3)
    #expect(try table.lookup(2) == 6)
    #expect(try table.lookup(7) == nil)
    #expect(try table.delete(1))
    #expect(try table.delete(1) == false)
    #expect(Set(try table.keys()) == [0, 2])
  }

  @Test func perCPUValuesHaveOneSlotPerPossibleCPU() throws {
    let object = try OpenBPFObject(bytes: BPFTestProgramBytes.maps, name: "maps").load(only: [])
    let table = try object.map("percpu_table", key: UInt32.self, value: UInt64.self)
    let cpus = CPUList.possible().count
    let values = (0..<cpus).map { UInt64(100 + $0) }
    try table.updatePerCPU(5, values)
    #expect(try table.lookupPerCPU(5) == values)
    #expect(try table.entriesPerCPU().map(\.values) == [values])
    let drained = try table.lookupAndDeleteBatchPerCPU(batchSize: 1)
    #expect(drained.count == 1)
    #expect(drained.first?.values == values)
    let shared = #expect(throws: SondeError.self) { try table.lookup(5) }
    #expect(shared?.kind == .invalidInput)
  }

  @Test func mismatchedKeyOrValueTypesAreRejected() throws {
    let object = try OpenBPFObject(bytes: BPFTestProgramBytes.maps, name: "maps").load(only: [])
    let error = #expect(throws: SondeError.self) { try object.map("table", key: UInt32.self, value: UInt64.self) }
    #expect(error?.reason.contains("key is 8 bytes") == true)
  }
}
