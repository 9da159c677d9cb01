import Pprof
import PprofMessages

/// Structural checks of a pprof profile, from the rules of pprof's proto/profile.proto: string 0 is empty,
/// every string index is in the table, ids are nonzero and unique, every id a sample, location or line
/// refers to exists, and every sample has one value per sample type.
public enum PprofStructure {
  /// What is wrong with `p`: empty when it is well formed.
  public static func problems(_ p: Perftools_Profiles_Profile) -> [String] {
    var problems: [String] = []
    if p.stringTable.first != "" { problems.append("string_table[0] is not the empty string") }
    func string(_ index: Int64, _ what: String) {
      if p.string(index) == nil { problems.append("\(what): string index \(index) outside the table") }
    }
    func ids<T>(_ items: [T], _ id: (T) -> UInt64, _ what: String) -> Set<UInt64> {
      var seen = Set<UInt64>()
      for item in items {
        let i = id(item)
        if i == 0 { problems.append("\(what) with id 0") }
        if !seen.insert(i).inserted { problems.append("\(what) id \(i) appears twice") }
      }
      return seen
    }
    for (i, t) in p.sampleType.enumerated() {
      string(t.type, "sample_type[\(i)].type")
      string(t.unit, "sample_type[\(i)].unit")
    }
    if p.hasPeriodType {
      string(p.periodType.type, "period_type.type")
      string(p.periodType.unit, "period_type.unit")
    }
    for c in p.comment { string(c, "comment") }
    string(p.dropFrames, "drop_frames")
    string(p.keepFrames, "keep_frames")
    string(p.defaultSampleType, "default_sample_type")
    let mappings = ids(p.mapping, \.id, "mapping")
    let functions = ids(p.function, \.id, "function")
    let locations = ids(p.location, \.id, "location")
    for m in p.mapping {
      string(m.filename, "mapping \(m.id) filename")
      string(m.buildID, "mapping \(m.id) build_id")
      if m.memoryLimit <= m.memoryStart { problems.append("mapping \(m.id) ends before it starts") }
    }
    for f in p.function {
      string(f.name, "function \(f.id) name")
      string(f.systemName, "function \(f.id) system_name")
      string(f.filename, "function \(f.id) filename")
    }
    for l in p.location {
      if l.mappingID != 0 && !mappings.contains(l.mappingID) {
        problems.append("location \(l.id) names mapping \(l.mappingID), which does not exist")
      }
      for line in l.line where !functions.contains(line.functionID) {
        problems.append("location \(l.id) names function \(line.functionID), which does not exist")
      }
    }
    for (i, s) in p.sample.enumerated() {
      if s.value.count != p.sampleType.count {
        problems.append("sample \(i) has \(s.value.count) values for \(p.sampleType.count) sample types")
      }
      for id in s.locationID where !locations.contains(id) {
        problems.append("sample \(i) names location \(id), which does not exist")
      }
      for label in s.label {
        string(label.key, "sample \(i) label key")
        string(label.str, "sample \(i) label str")
        string(label.numUnit, "sample \(i) label num_unit")
      }
    }
    return problems
  }
}
