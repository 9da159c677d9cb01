import Foundation
import GRDB
import SondeSystem

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
  private let pool: DatabasePool

  /// Opens (creating when missing) the database `store.sqlite` in `directory`, for profiles of `kind`. A
  /// store of the other kind is refused: its counts would not add up with these.
  public init(directory: String, kind: ProfileKind = .cpu) throws(SondeError) {
    path = directory + "/store.sqlite"
    self.kind = kind
    let stored: String?
    do {
      var configuration = Configuration()
      configuration.busyMode = .timeout(10)
      configuration.label = "sonde-agent"
      pool = try DatabasePool(path: path, configuration: configuration)
      var migrator = DatabaseMigrator()
      migrator.registerMigration("v1") { db in
        try db.execute(
          sql: """
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
            """)
      }
      migrator.registerMigration("v2: sample indexes for retention") { db in
        try db.execute(
          sql: """
            CREATE INDEX sample_stack ON sample(stack_id);
            CREATE INDEX sample_series ON sample(series_id);
            """)
      }
      migrator.registerMigration("v3: the kind of profile stored") { db in
        // Stores made before this held CPU samples.
        try db.execute(
          sql: """
            CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            INSERT INTO meta (key, value) SELECT 'kind', 'cpu' WHERE EXISTS (SELECT 1 FROM window);
            """)
      }
      try migrator.migrate(pool)
      stored = try pool.write { db in
        if let known = try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'kind'") { return known }
        try db.execute(sql: "INSERT INTO meta (key, value) VALUES ('kind', ?)", arguments: [kind.rawValue])
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
      return try pool.read { db in
        var result = Interned()
        for row in try Row.fetchAll(db, sql: "SELECT id, name, module, kernel FROM function") {
          result.functions.append(
            (row[0], AgentFunction(name: row[1], module: row[2], isKernel: (row[3] as Int64) != 0)))
        }
        for row in try Row.fetchAll(db, sql: "SELECT id, frames FROM stack") {
          result.stacks.append((row[0], Self.frames(row[1])))
        }
        for row in try Row.fetchAll(db, sql: "SELECT id, pid, comm, exe, cgroup, container, unit FROM series") {
          result.series.append((row[0], Self.labels(row, from: 1)))
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
      try pool.write { db in
        for (id, f) in pending.functions {
          try db.execute(
            sql: "INSERT OR REPLACE INTO function (id, name, module, kernel) VALUES (?, ?, ?, ?)",
            arguments: [id, f.name, f.module, f.isKernel ? 1 : 0])
        }
        for (id, frames) in pending.stacks {
          try db.execute(
            sql: "INSERT OR REPLACE INTO stack (id, frames) VALUES (?, ?)",
            arguments: [id, frames.map(String.init).joined(separator: ",")])
        }
        for (id, l) in pending.series {
          try db.execute(
            sql: """
              INSERT OR REPLACE INTO series (id, pid, comm, exe, cgroup, container, unit)
              VALUES (?, ?, ?, ?, ?, ?, ?)
              """,
            arguments: [id, Int64(l.pid), l.comm, l.exe, l.cgroup, l.container, l.unit])
        }
        try db.execute(
          sql: "INSERT INTO window (start_ns, end_ns, resolution_s, samples, lost) VALUES (?, ?, ?, ?, ?)",
          arguments: [
            window.start, window.end, resolutionSeconds, Int64(clamping: window.sampleCount),
            Int64(clamping: window.lostCount),
          ])
        let windowID = db.lastInsertedRowID
        let insert = try db.cachedStatement(
          sql: "INSERT INTO sample (window_id, series_id, stack_id, count) VALUES (?, ?, ?, ?)")
        for (key, count) in window.counts {
          try insert.execute(arguments: [windowID, key.series, key.stack, Int64(clamping: count)])
        }
      }
    } catch {
      throw Self.failure("write window", error)
    }
  }

  /// The windows overlapping [from, to) (nanoseconds), oldest first.
  public func windows(from: Int64, to: Int64) async throws(SondeError) -> [WindowSummary] {
    do {
      return try await pool.read { db in
        try Row.fetchAll(
          db, sql: "SELECT start_ns, end_ns, samples FROM window WHERE end_ns > ? AND start_ns < ? ORDER BY start_ns",
          arguments: [from, to]
        ).map { WindowSummary(start: $0[0], end: $0[1], samples: UInt64(max(0, $0[2] as Int64))) }
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
      return try await pool.read { db in
        var result = AgentProfile(from: from, to: to, frequency: frequency, kind: kind)
        let rows = try Row.fetchAll(
          db,
          sql: """
            SELECT s.series_id, s.stack_id, SUM(s.count) FROM sample s JOIN window w ON w.id = s.window_id
            WHERE w.end_ns > ? AND w.start_ns < ? AND w.end_ns <= ? GROUP BY s.series_id, s.stack_id
            """, arguments: [from, to, until])
        var series: [Int64: ProcessLabels?] = [:]
        var stacks: [Int64: [AgentFunction]] = [:]
        var functions: [Int64: AgentFunction] = [:]
        let seriesStatement = try db.cachedStatement(
          sql: "SELECT pid, comm, exe, cgroup, container, unit FROM series WHERE id = ?")
        let stackStatement = try db.cachedStatement(sql: "SELECT frames FROM stack WHERE id = ?")
        let functionStatement = try db.cachedStatement(sql: "SELECT name, module, kernel FROM function WHERE id = ?")
        for row in rows {
          let seriesID: Int64 = row[0]
          let stackID: Int64 = row[1]
          let count: Int64 = row[2]
          if series[seriesID] == nil {
            let labels = try Row.fetchOne(seriesStatement, arguments: [seriesID]).map { Self.labels($0, from: 0) }
            series[seriesID] = labels.flatMap { filter.accepts($0) ? $0 : nil } ?? .some(nil)
          }
          guard let labels = series[seriesID] ?? nil else { continue }
          if stacks[stackID] == nil {
            let text: String = try String.fetchOne(stackStatement, arguments: [stackID]) ?? ""
            var frames: [AgentFunction] = []
            for id in Self.frames(text) {
              if functions[id] == nil, let f = try Row.fetchOne(functionStatement, arguments: [id]) {
                functions[id] = AgentFunction(name: f[0], module: f[1], isKernel: (f[2] as Int64) != 0)
              }
              frames.append(functions[id] ?? AgentFunction(name: "[unknown]", module: "", isKernel: false))
            }
            stacks[stackID] = frames
          }
          result.entries.append(
            AgentProfile.Entry(labels: labels, frames: stacks[stackID] ?? [], count: UInt64(max(0, count))))
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
      return try pool.read { db in try Int64.fetchOne(db, sql: "SELECT MAX(end_ns) FROM window") ?? 0 }
    } catch {
      throw Self.failure("read windows", error)
    }
  }

  /// Bytes of the database's pages in use, and of all its pages (free ones included): its logical size,
  /// whatever part of it is still in the WAL.
  func pageBytes() throws -> (used: Int64, total: Int64) {
    try pool.read { db -> (Int64, Int64) in
      let pages = try Int64.fetchOne(db, sql: "PRAGMA page_count") ?? 0
      let free = try Int64.fetchOne(db, sql: "PRAGMA freelist_count") ?? 0
      let size = try Int64.fetchOne(db, sql: "PRAGMA page_size") ?? 4096
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
  /// pages in use fit in `maxBytes` (then the file is vacuumed and the WAL truncated to match); windows older than `compactAfter` seconds are merged into minute windows, and those
  /// older than six times that into ten-minute ones. The stacks and series this leaves unreferenced are
  /// removed by `collectGarbage`, on the writer's thread.
  func maintain(now: Int64, maxAge: Double, maxBytes: UInt64, compactAfter: Double) throws(SondeError) {
    do {
      try compact(olderThan: now - Int64(compactAfter * 1e9), into: 60)
      try compact(olderThan: now - Int64(compactAfter * 6e9), into: 600)
      try pool.write { db in
        try db.execute(sql: "DELETE FROM window WHERE end_ns < ?", arguments: [now - Int64(maxAge * 1e9)])
      }
      // The size cap: the oldest windows go, as many as the excess is of the pages in use (the file itself
      // only shrinks at the vacuum), then one vacuum and a WAL truncation give the space back.
      var (used, total) = try pageBytes()
      // Deleting rows frees whole pages only when they empty: a few rounds reach the cap.
      for _ in 0..<8 where UInt64(max(0, used)) > maxBytes {
        try pool.write { db in
          let count = try Int64.fetchOne(db, sql: "SELECT COUNT(*) FROM window") ?? 0
          let excess = Double(UInt64(used) - maxBytes) / Double(max(1, used))
          let doomed = min(count - 1, Int64((Double(count) * excess).rounded(.up)) + 1)
          try db.execute(
            sql: "DELETE FROM window WHERE id IN (SELECT id FROM window ORDER BY start_ns LIMIT ?)",
            arguments: [max(0, doomed)])
        }
        (used, total) = try pageBytes()
      }
      if UInt64(max(0, total)) > maxBytes {
        try pool.vacuum()
        _ = try pool.writeWithoutTransaction { db in try db.checkpoint(.truncate) }
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
      return try pool.write { db in
        let stacks = try Int64.fetchSet(
          db, sql: "SELECT id FROM stack WHERE NOT EXISTS (SELECT 1 FROM sample WHERE stack_id = stack.id)")
        let series = try Int64.fetchSet(
          db, sql: "SELECT id FROM series WHERE NOT EXISTS (SELECT 1 FROM sample WHERE series_id = series.id)")
        for id in stacks { try db.execute(sql: "DELETE FROM stack WHERE id = ?", arguments: [id]) }
        for id in series { try db.execute(sql: "DELETE FROM series WHERE id = ?", arguments: [id]) }
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
    let buckets = try pool.read { db in
      try Int64.fetchAll(
        db, sql: "SELECT DISTINCT start_ns / ? FROM window WHERE resolution_s < ? AND end_ns < ?",
        arguments: [span, seconds, cutoff])
    }
    for bucket in buckets {
      try pool.write { db in
        let ids = try Int64.fetchAll(
          db, sql: "SELECT id FROM window WHERE resolution_s < ? AND start_ns / ? = ? AND end_ns < ?",
          arguments: [seconds, span, bucket, cutoff])
        guard ids.count > 1 else {
          // A lone window is relabelled, not copied.
          try db.execute(sql: "UPDATE window SET resolution_s = ? WHERE id = ?", arguments: [seconds, ids.first])
          return
        }
        let list = ids.map(String.init).joined(separator: ",")
        try db.execute(
          sql: """
            INSERT INTO window (start_ns, end_ns, resolution_s, samples, lost)
            SELECT MIN(start_ns), MAX(end_ns), ?, SUM(samples), SUM(lost) FROM window WHERE id IN (\(list))
            """, arguments: [seconds])
        let merged = db.lastInsertedRowID
        try db.execute(
          sql: """
            INSERT INTO sample (window_id, series_id, stack_id, count)
            SELECT ?, series_id, stack_id, SUM(count) FROM sample WHERE window_id IN (\(list))
            GROUP BY series_id, stack_id
            """, arguments: [merged])
        try db.execute(sql: "DELETE FROM window WHERE id IN (\(list))")
      }
    }
  }

  private static func frames(_ text: String) -> [Int64] {
    text.split(separator: ",").compactMap { Int64($0) }
  }

  private static func labels(_ row: Row, from i: Int) -> ProcessLabels {
    ProcessLabels(
      pid: Int32(clamping: row[i] as Int64), comm: row[i + 1], exe: row[i + 2], cgroup: row[i + 3],
      container: row[i + 4], unit: row[i + 5])
  }
}
