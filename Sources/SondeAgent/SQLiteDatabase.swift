import Dispatch
import SondeSystem

/// One SQLite database in WAL mode with a writer connection and a reader connection beside it: reads see
/// the last committed state and never wait for a write, writes are serialized.
///
/// The agent's store needs little of a database library, and SQLite's C API directly keeps Foundation
/// (and ICU, which it loads) out of the always-on agent: 8 MB of its resident memory.
final class SQLiteDatabase: @unchecked Sendable {
  private let writer: Locked<SQLiteConnection>
  private let reader: Locked<SQLiteConnection>
  /// Where asynchronous reads run, so a long query does not hold a Swift concurrency thread.
  private let readQueue = DispatchQueue(label: "sonde-agent.store.read")

  /// Records the migrations applied, by identifier. The name is the one earlier builds of the agent wrote
  /// (through GRDB's migrator), so their stores open unchanged.
  private static let migrationsTable = "grdb_migrations"

  /// Opens (creating when missing) the database at `path`. SQLite's page cache is bounded per connection
  /// (`cacheKiB`): the store's file is in the kernel's page cache anyway.
  init(path: String, cacheKiB: Int = 512) throws(SQLiteError) {
    let writer = try SQLiteConnection(path: path, readOnly: false)
    // WAL: readers beside the writer, and a crash loses only the uncommitted transaction. NORMAL syncs at
    // checkpoints: a committed window survives the process's death (not a power loss before a checkpoint).
    try writer.execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -\(cacheKiB)")
    let reader = try SQLiteConnection(path: path, readOnly: true)
    try reader.execute("PRAGMA cache_size = -\(cacheKiB)")
    self.writer = Locked(writer)
    self.reader = Locked(reader)
  }

  /// Applies, in order and each in its own transaction, the migrations not applied yet.
  func migrate(_ migrations: [(identifier: String, sql: String)]) throws {
    try writer.withLock { db in
      try db.execute("CREATE TABLE IF NOT EXISTS \(Self.migrationsTable) (identifier TEXT NOT NULL PRIMARY KEY)")
      let applied = Set(try db.rows("SELECT identifier FROM \(Self.migrationsTable)") { $0.text(0) })
      for migration in migrations where !applied.contains(migration.identifier) {
        try db.transaction(immediate: true) { db in
          try db.execute(migration.sql)
          try db.run(
            "INSERT INTO \(Self.migrationsTable) (identifier) VALUES (?)", [.text(migration.identifier)])
        }
      }
    }
  }

  /// Runs `body` in a write transaction.
  func write<T>(_ body: (SQLiteConnection) throws -> T) throws -> T {
    try writer.withLock { db in try db.transaction(immediate: true, body) }
  }

  /// Runs `body` on the writer outside any transaction (VACUUM and checkpoints cannot run in one).
  func writeWithoutTransaction<T>(_ body: (SQLiteConnection) throws -> T) throws -> T {
    try writer.withLock { db in try body(db) }
  }

  /// Runs `body` in a read transaction: one snapshot for all its statements.
  func read<T>(_ body: (SQLiteConnection) throws -> T) throws -> T {
    try reader.withLock { db in try db.transaction(immediate: false, body) }
  }

  /// `read`, on the store's read queue.
  func read<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
      readQueue.async {
        continuation.resume(with: Result { try self.read(body) })
      }
    }
  }
}
