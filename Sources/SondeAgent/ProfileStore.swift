import SondeSystem

#if canImport(Glibc)
  import Glibc
#endif

/// The agent's embedded store: one SQLite database (WAL) under the data directory holding windows of
/// samples with interned stacks, functions and series (a process's labels).
///
/// Each window is written in one transaction with whatever it newly interned, so a `kill -9` loses at most
/// the window being collected, and the database opens after a crash as SQLite's WAL recovery leaves it, with
/// no repair by hand. Retention deletes windows past an age and, oldest first, past a size cap; windows
/// older than `compactAfter` are merged into coarser ones (a minute, then ten) so history stays queryable in
/// less space. Reads run beside the writer (WAL readers do not block it).
public final class ProfileStore: @unchecked Sendable {
  /// What the interner starts from: every stored function, stack and series with its id.
  struct Interned {
    var functions: [(Int64, AgentFunction)] = []
    var stacks: [(Int64, [Int64])] = []
    var series: [(Int64, ProcessLabels)] = []
  }

  /// One stored window's summary (the UI's timeline).
  public struct WindowSummary: Sendable, Codable {
    public var start: Int64
    public var end: Int64
    public var samples: UInt64
  }

  public let path: String
  /// What the stored counts are (samples or nanoseconds off-CPU): one kind per store.
  public let kind: ProfileKind
  private let database: SQLiteDatabase

  /// Opens (creating when missing) the database `store.sqlite` in `directory`, for profiles of `kind`. A
  /// store of the other kind is refused: its counts would not add up with these.
  public init(directory: String, kind: ProfileKind = .cpu) throws(SondeError) {
    path = directory + "/store.sqlite"
    self.kind = kind
    let stored: String?
    do {
      database = try SQLiteDatabase(path: path)
      try database.migrate([
        (
          "v1",
          """
          CREATE TABLE window (
            id INTEGER PRIMARY KEY, start_ns INTEGER NOT NULL, end_ns INTEGER NOT NULL,
            resolution_s INTEGER NOT NULL, samples INTEGER NOT NULL, lost INTEGER NOT NULL);
          CREATE INDEX window_start ON window(start_ns);
          CREATE TABLE function (
            id INTEGER PRIMARY KEY, name TEXT NOT NULL, module TEXT NOT NULL, kernel INTEGER NOT NULL);
          CREATE TABLE stack (id INTEGER PRIMARY KEY, frames TEXT NOT NULL);
          CREATE TABLE series (
            id INTEGER PRIMARY KEY, pid INTEGER NOT NULL, comm TEXT NOT NULL, exe TEXT NOT NULL,
            cgroup TEXT NOT NULL, container TEXT NOT NULL, unit TEXT NOT NULL);
          CREATE TABLE sample (
            window_id INTEGER NOT NULL REFERENCES window(id) ON DELETE CASCADE,
            series_id INTEGER NOT NULL, stack_id INTEGER NOT NULL, count INTEGER NOT NULL);
          CREATE INDEX sample_window ON sample(window_id);
          """
        ),
        (
          "v2: sample indexes for retention",
          """
          CREATE INDEX sample_stack ON sample(stack_id);
          CREATE INDEX sample_series ON sample(series_id);
          """
        ),
        (
          // Stores made before this held CPU samples.
          "v3: the kind of profile stored",
          """
          CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
          INSERT INTO meta (key, value) SELECT 'kind', 'cpu' WHERE EXISTS (SELECT 1 FROM window);
          """
        ),
      ])
      stored = try database.write { db in
        if let known = try db.first("SELECT value FROM meta WHERE key = 'kind'", [], { $0.text(0) }) { return known }
        try db.run("INSERT INTO meta (key, value) VALUES ('kind', ?)", [.text(kind.rawValue)])
        return kind.rawValue
      }
    } catch {
      throw Self.failure("open \(path)", error)
    }
    guard stored == kind.rawValue else {
      throw SondeError.invalid(
        "agent --data \(directory)", "holds \(stored ?? "?") profiles, not \(kind.rawValue)",
        remedy: "give each kind its own --data directory")
    }
  }

  static func failure(_ operation: String, _ error: any Error) -> SondeError {
    SondeError(.system, operation: "agent store: \(operation)", reason: String(describing: error))
  }

  /// Every interned row, for the interner to start from.
  func interned() throws(SondeError) -> Interned {
    do {
      return try database.read { db in
        var result = Interned()
        try db.query("SELECT id, name, module, kernel FROM function") { row in
          result.functions.append(
            (row.integer(0), AgentFunction(name: row.text(1), module: row.text(2), isKernel: row.integer(3) != 0)))
        }
        try db.query("SELECT id, frames FROM stack") { row in
          result.stacks.append((row.integer(0), Self.frames(row.text(1))))
        }
        try db.query("SELECT id, pid, comm, exe, cgroup, container, unit FROM series") { row in
          result.series.append((row.integer(0), Self.labels(row, from: 1)))
        }
        return result
      }
    } catch {
      throw Self.failure("read interned rows", error)
    }
  }

  /// Writes one window and what it newly interned, in one transaction.
  func write(_ window: AgentSlice, resolutionSeconds: Int, pending: AgentInterner.Pending) throws(SondeError) {
    do {
      try database.write { db in
        for (id, f) in pending.functions {
          try db.run(
            "INSERT OR REPLACE INTO function (id, name, module, kernel) VALUES (?, ?, ?, ?)",
            [.integer(id), .text(f.name), .text(f.module), .integer(f.isKernel ? 1 : 0)])
        }
        for (id, frames) in pending.stacks {
          try db.run(
            "INSERT OR REPLACE INTO stack (id, frames) VALUES (?, ?)",
            [.integer(id), .text(frames.map(String.init).joined(separator: ","))])
        }
        for (id, l) in pending.series {
          try db.run(
            """
            INSERT OR REPLACE INTO series (id, pid, comm, exe, cgroup, container, unit)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """,
            [
              .integer(id), .integer(Int64(l.pid)), .text(l.comm), .text(l.exe), .text(l.cgroup),
              .text(l.container), .text(l.unit),
            ])
        }
        try db.run(
          "INSERT INTO window (start_ns, end_ns, resolution_s, samples, lost) VALUES (?, ?, ?, ?, ?)",
          [
            .integer(window.start), .integer(window.end), .integer(Int64(resolutionSeconds)),
            .integer(Int64(clamping: window.sampleCount)), .integer(Int64(clamping: window.lostCount)),
          ])
        let windowID = db.lastInsertedRowID
        for (key, count) in window.counts {
          try db.run(
            "INSERT INTO sample (window_id, series_id, stack_id, count) VALUES (?, ?, ?, ?)",
            [.integer(windowID), .integer(key.series), .integer(key.stack), .integer(Int64(clamping: count))])
        }
      }
    } catch {
      throw Self.failure("write window", error)
    }
  }

  /// The windows overlapping [from, to) (nanoseconds), oldest first.
  public func windows(from: Int64, to: Int64) async throws(SondeError) -> [WindowSummary] {
    do {
      return try await database.read { db in
        try db.rows(
          "SELECT start_ns, end_ns, samples FROM window WHERE end_ns > ? AND start_ns < ? ORDER BY start_ns",
          [.integer(from), .integer(to)]
        ) { WindowSummary(start: $0.integer(0), end: $0.integer(1), samples: UInt64(max(0, $0.integer(2)))) }
      }
    } catch {
      throw Self.failure("read windows", error)
    }
  }

  /// The samples of the windows overlapping [from, to) (nanoseconds) and ending by `until`, whose process
  /// `filter` accepts, resolved to labels and functions.
  public func profile(
    from: Int64, to: Int64, until: Int64 = .max, filter: ProfileFilter, frequency: UInt64
  ) async throws(SondeError) -> AgentProfile {
    let kind = kind
    do {
      return try await database.read { db in
        var result = AgentProfile(from: from, to: to, frequency: frequency, kind: kind)
        let rows = try db.rows(
          """
          SELECT s.series_id, s.stack_id, SUM(s.count) FROM sample s JOIN window w ON w.id = s.window_id
          WHERE w.end_ns > ? AND w.start_ns < ? AND w.end_ns <= ? GROUP BY s.series_id, s.stack_id
          """, [.integer(from), .integer(to), .integer(until)]
        ) { (series: $0.integer(0), stack: $0.integer(1), count: $0.integer(2)) }
        var series: [Int64: ProcessLabels?] = [:]
        var stacks: [Int64: [AgentFunction]] = [:]
        var functions: [Int64: AgentFunction] = [:]
        for row in rows {
          if series[row.series] == nil {
            let labels = try db.first(
              "SELECT pid, comm, exe, cgroup, container, unit FROM series WHERE id = ?", [.integer(row.series)]
            ) { Self.labels($0, from: 0) }
            series[row.series] = labels.flatMap { filter.accepts($0) ? $0 : nil } ?? .some(nil)
          }
          guard let labels = series[row.series] ?? nil else { continue }
          if stacks[row.stack] == nil {
            let text = try db.first("SELECT frames FROM stack WHERE id = ?", [.integer(row.stack)]) { $0.text(0) }
            var frames: [AgentFunction] = []
            for id in Self.frames(text ?? "") {
              if functions[id] == nil {
                functions[id] = try db.first(
                  "SELECT name, module, kernel FROM function WHERE id = ?", [.integer(id)]
                ) { AgentFunction(name: $0.text(0), module: $0.text(1), isKernel: $0.integer(2) != 0) }
              }
              frames.append(functions[id] ?? AgentFunction(name: "[unknown]", module: "", isKernel: false))
            }
            stacks[row.stack] = frames
          }
          result.entries.append(
            AgentProfile.Entry(labels: labels, frames: stacks[row.stack] ?? [], count: UInt64(max(0, row.count))))
        }
        return result
      }
    } catch {
      throw Self.failure("read profile", error)
    }
  }

  /// Where the newest stored window ends (0 when none).
  func lastWindowEnd() throws(SondeError) -> Int64 {
    do {
      return try database.read { db in try db.integer("SELECT MAX(end_ns) FROM window") ?? 0 }
    } catch {
      throw Self.failure("read windows", error)
    }
  }

  /// Bytes of the database's pages in use, and of all its pages (free ones included): its logical size,
  /// whatever part of it is still in the WAL.
  func pageBytes() throws -> (used: Int64, total: Int64) {
    try database.read { db -> (Int64, Int64) in
      let pages = try db.integer("PRAGMA page_count") ?? 0
      let free = try db.integer("PRAGMA freelist_count") ?? 0
      let size = try db.integer("PRAGMA page_size") ?? 4096
      return ((pages - free) * size, pages * size)
    }
  }

  /// Bytes the database takes on disk (its file, WAL and shared-memory index).
  public var sizeBytes: UInt64 {
    [path, path + "-wal", path + "-shm"].reduce(0) { total, file in
      var info = stat()
      return stat(file, &info) == 0 ? total.saturatingAdd(UInt64(max(0, info.st_size))) : total
    }
  }

  /// Applies retention: windows older than `maxAge` seconds go, then the oldest until the database's
  /// pages in use fit in `maxBytes` (then the file is vacuumed and the WAL truncated to match); windows
  /// older than `compactAfter` seconds are merged into minute windows, and those older than six times that
  /// into ten-minute ones. The stacks and series this leaves unreferenced are removed by `collectGarbage`,
  /// on the writer's thread.
  func maintain(now: Int64, maxAge: Double, maxBytes: UInt64, compactAfter: Double) throws(SondeError) {
    do {
      try compact(olderThan: now - Int64(compactAfter * 1e9), into: 60)
      try compact(olderThan: now - Int64(compactAfter * 6e9), into: 600)
      try database.write { db in
        try db.run("DELETE FROM window WHERE end_ns < ?", [.integer(now - Int64(maxAge * 1e9))])
      }
      // The size cap: the oldest windows go, as many as the excess is of the pages in use (the file itself
      // only shrinks at the vacuum), then one vacuum and a WAL truncation give the space back.
      var (used, total) = try pageBytes()
      // Deleting rows frees whole pages only when they empty: a few rounds reach the cap.
      for _ in 0..<8 where UInt64(max(0, used)) > maxBytes {
        try database.write { db in
          let count = try db.integer("SELECT COUNT(*) FROM window") ?? 0
          let excess = Double(UInt64(used) - maxBytes) / Double(max(1, used))
          let doomed = min(count - 1, Int64((Double(count) * excess).rounded(.up)) + 1)
          try db.run(
            "DELETE FROM window WHERE id IN (SELECT id FROM window ORDER BY start_ns LIMIT ?)",
            [.integer(max(0, doomed))])
        }
        (used, total) = try pageBytes()
      }
      if UInt64(max(0, total)) > maxBytes {
        try database.writeWithoutTransaction { db in
          try db.execute("VACUUM")
          try db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        }
      }
    } catch let error as SondeError {
      throw error
    } catch {
      throw Self.failure("retention", error)
    }
  }

  /// Deletes the stacks and series no window references and returns their ids (for the interner to
  /// forget). Run by the thread that writes windows, so no window being written refers to a row it deletes.
  func collectGarbage() throws(SondeError) -> (stacks: Set<Int64>, series: Set<Int64>) {
    do {
      return try database.write { db in
        let stacks = Set(
          try db.rows("SELECT id FROM stack WHERE NOT EXISTS (SELECT 1 FROM sample WHERE stack_id = stack.id)") {
            $0.integer(0)
          })
        let series = Set(
          try db.rows(
            "SELECT id FROM series WHERE NOT EXISTS (SELECT 1 FROM sample WHERE series_id = series.id)"
          ) { $0.integer(0) })
        for id in stacks { try db.run("DELETE FROM stack WHERE id = ?", [.integer(id)]) }
        for id in series { try db.run("DELETE FROM series WHERE id = ?", [.integer(id)]) }
        return (stacks, series)
      }
    } catch {
      throw Self.failure("delete unreferenced stacks", error)
    }
  }

  /// Merges windows finer than `seconds` that ended before `cutoff` into windows of `seconds`, aligned to
  /// multiples of it, each merge in one transaction.
  private func compact(olderThan cutoff: Int64, into seconds: Int) throws {
    let span = Int64(seconds) * 1_000_000_000
    let resolution = Int64(seconds)
    let buckets = try database.read { db in
      try db.rows(
        "SELECT DISTINCT start_ns / ? FROM window WHERE resolution_s < ? AND end_ns < ?",
        [.integer(span), .integer(resolution), .integer(cutoff)]
      ) { $0.integer(0) }
    }
    for bucket in buckets {
      try database.write { db in
        let ids = try db.rows(
          "SELECT id FROM window WHERE resolution_s < ? AND start_ns / ? = ? AND end_ns < ?",
          [.integer(resolution), .integer(span), .integer(bucket), .integer(cutoff)]
        ) { $0.integer(0) }
        guard ids.count > 1 else {
          // A lone window is relabelled, not copied.
          if let id = ids.first {
            try db.run("UPDATE window SET resolution_s = ? WHERE id = ?", [.integer(resolution), .integer(id)])
          }
          return
        }
        // Statements made from values run uncached (`execute`): the ids are integers the store returned.
        let list = ids.map(String.init).joined(separator: ",")
        try db.execute(
          """
          INSERT INTO window (start_ns, end_ns, resolution_s, samples, lost)
          SELECT MIN(start_ns), MAX(end_ns), \(resolution), SUM(samples), SUM(lost) FROM window WHERE id IN (\(list))
          """)
        let merged = db.lastInsertedRowID
        try db.execute(
          """
          INSERT INTO sample (window_id, series_id, stack_id, count)
          SELECT \(merged), series_id, stack_id, SUM(count) FROM sample WHERE window_id IN (\(list))
          GROUP BY series_id, stack_id
          """)
        try db.execute("DELETE FROM window WHERE id IN (\(list))")
      }
    }
  }

  private static func frames(_ text: String) -> [Int64] {
    text.split(separator: ",").compactMap { Int64($0) }
  }

  private static func labels(_ row: SQLiteRow, from i: Int32) -> ProcessLabels {
    ProcessLabels(
      pid: Int32(clamping: row.integer(i)), comm: row.text(i + 1), exe: row.text(i + 2), cgroup: row.text(i + 3),
      container: row.text(i + 4), unit: row.text(i + 5))
  }
}
