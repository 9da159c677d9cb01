import CSonde

/// Encoders and decoders for the feature sections Sonde writes and reads.
enum FeatureCoding {
  /// perf's do_write_string: u32 length (NUL included, padded to NAME_ALIGN), then the padded bytes.
  static func writeString(_ w: inout ByteWriter, _ s: String) {
    let bytes = Array(s.utf8)
    let padded = (bytes.count + 1 + PerfDataFormat.nameAlign - 1) / PerfDataFormat.nameAlign * PerfDataFormat.nameAlign
    w.u32(UInt32(padded))
    w.append(bytes)
    w.zeros(padded - bytes.count)
  }

  static func readString(_ c: inout ByteCursor) throws(RecordDecodeError) -> String {
    let length = try c.u32("string length")
    guard Int(length) <= c.remaining else { throw c.fail("string length \(length) exceeds its section") }
    return try c.paddedString(Int(length), "string")
  }

  /// The payload of one feature, or nil if Sonde has nothing to write for it.
  static func encode(_ feature: FeatureID, _ f: PerfDataFeatures, events: [PerfDataEvent]) -> [UInt8]? {
    var w = ByteWriter()
    switch feature {
    case .tracingData:
      guard let v = f.tracingData else { return nil }
      w.append(v.encoded)
    case .hostname:
      guard let v = f.hostname else { return nil }
      writeString(&w, v)
    case .osRelease:
      guard let v = f.osRelease else { return nil }
      writeString(&w, v)
    case .version:
      guard let v = f.version else { return nil }
      writeString(&w, v)
    case .arch:
      guard let v = f.arch else { return nil }
      writeString(&w, v)
    case .cpuDescription:
      guard let v = f.cpuDescription else { return nil }
      writeString(&w, v)
    case .cpuID:
      guard let v = f.cpuID else { return nil }
      writeString(&w, v)
    case .nrCPUs:
      guard let a = f.cpusAvailable, let o = f.cpusOnline else { return nil }
      w.u32(a)
      w.u32(o)
    case .totalMemory:
      guard let v = f.totalMemoryKB else { return nil }
      w.u64(v)
    case .cmdline:
      guard let args = f.cmdline else { return nil }
      w.u32(UInt32(args.count))
      for a in args { writeString(&w, a) }
    case .eventDescription:
      guard !events.isEmpty else { return nil }
      w.u32(UInt32(events.count))
      w.u32(UInt32(PerfDataFormat.attrSize))
      for e in events {
        w.append(e.fileBytes)
        w.u32(UInt32(e.ids.count))
        writeString(&w, e.name)
        for id in e.ids { w.u64(id) }
      }
    case .buildID:
      guard !f.buildIDs.isEmpty else { return nil }
      for b in f.buildIDs {
        // struct perf_record_header_build_id: header, pid, build_id[20] + size + 3 reserved, filename.
        let nameLength =
          (b.filename.utf8.count + 1 + PerfDataFormat.nameAlign - 1) / PerfDataFormat.nameAlign
          * PerfDataFormat.nameAlign
        // The record's size is a u16: a name that long cannot be described (none is: PATH_MAX is 4096).
        guard 36 + nameLength <= Int(UInt16.max) else { continue }
        w.u32(0)
        w.u16(b.cpumode | RecordMisc.buildIDSize)
        w.u16(UInt16(36 + nameLength))
        w.u32(UInt32(bitPattern: b.pid))
        let id = Array(b.buildID.prefix(20))
        w.append(id)
        w.zeros(20 - id.count)
        w.u8(UInt8(id.count))
        w.zeros(3)
        w.append(Array(b.filename.utf8))
        w.zeros(nameLength - b.filename.utf8.count)
      }
    default:
      return nil
    }
    return w.bytes
  }

  /// Decodes one feature section into `f`. Unknown features are only noted.
  static func decode(_ feature: Int, _ c: inout ByteCursor, into f: inout PerfDataFeatures) throws(RecordDecodeError) {
    guard let id = FeatureID(rawValue: feature) else {
      f.otherFeatures.append(feature)
      return
    }
    switch id {
    case .tracingData:
      // A section Sonde cannot parse (e.g. big-endian) is noted, not fatal: samples still decode.
      // Bounded like any file Sonde reads whole (a sparse file can claim terabytes).
      if c.remaining <= 1 << 30, let data = try? TracingData.decode(try c.bytes(c.remaining, "tracing data")) {
        f.tracingData = data
      } else {
        f.otherFeatures.append(feature)
      }
    case .hostname: f.hostname = try readString(&c)
    case .osRelease: f.osRelease = try readString(&c)
    case .version: f.version = try readString(&c)
    case .arch: f.arch = try readString(&c)
    case .cpuDescription: f.cpuDescription = try readString(&c)
    case .cpuID: f.cpuID = try readString(&c)
    case .nrCPUs:
      f.cpusAvailable = try c.u32("nr_cpus_avail")
      f.cpusOnline = try c.u32("nr_cpus_online")
    case .totalMemory: f.totalMemoryKB = try c.u64("total_mem")
    case .cmdline:
      let n = try c.u32("cmdline count")
      guard Int(n) <= c.remaining / 4 else { throw c.fail("cmdline claims \(n) arguments") }
      var args: [String] = []
      for _ in 0..<n { args.append(try readString(&c)) }
      f.cmdline = args
    case .eventDescription:
      let n = try c.u32("event count")
      let size = Int(try c.u32("event attr size"))
      guard size >= 64, Int(n) <= c.remaining / size else {
        throw c.fail("event_desc claims \(n) events of \(size) bytes")
      }
      for _ in 0..<n {
        try c.skip(size, "event attr")
        let nrIDs = try c.u32("event id count")
        let name = try readString(&c)
        let ids = try c.u64Array(UInt64(nrIDs), "event ids")
        f.eventDescriptions.append((name: name, ids: ids))
      }
    case .buildID:
      while c.remaining > 0 {
        let start = c.offset
        _ = try c.u32("build_id type")
        let misc = try c.u16("build_id misc")
        let size = Int(try c.u16("build_id size"))
        guard size >= 36, size <= c.remaining + 8 else { throw c.fail("build-id entry size \(size) is invalid") }
        let pid = Int32(bitPattern: try c.u32("build_id pid"))
        let raw = try c.bytes(20, "build_id")
        let n = Int(try c.u8("build_id length"))
        try c.skip(3)
        let name = try c.paddedString(size - 36, "build_id filename")
        let length = misc & RecordMisc.buildIDSize != 0 ? min(n, 20) : 20
        f.buildIDs.append(
          BuildIDEntry(
            pid: pid, cpumode: misc & RecordMisc.cpumodeMask, buildID: Array(raw[0..<length]), filename: name))
        c.offset = start + size
      }
    default:
      f.otherFeatures.append(feature)
    }
  }
}
