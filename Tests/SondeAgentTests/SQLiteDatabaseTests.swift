import Foundation
import SondeTestSupport
import Testing

@testable import SondeAgent

/// The store's SQLite layer on its own: what the store relies on from it, against the real SQLite.
@Suite struct SQLiteDatabaseTests {
  /// A transaction whose body throws leaves nothing behind, and the error names SQLite's complaint and
  /// the statement; the connection goes on working.
  @Test func aFailedWriteIsRolledBackWhole() throws {
    let dir = try TestSupport.temporaryDirectory("sqlite-rollback")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let db = try SQLiteDatabase(path: dir + "/t.sqlite")
    try db.migrate([("t", "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")])
    #expect {
      try db.write { db in
        try db.run("INSERT INTO t (id, v) VALUES (?, ?)", [.integer(1), .text("kept?")])
        try db.run("INSERT INTO t (id, v) VALUES (?, ?)", [.integer(2), .null])
      }
    } throws: { "\($0)".contains("NOT NULL constraint failed: t.v") && "\($0)".contains("INSERT INTO t") }
    #expect(try db.read { try $0.integer("SELECT COUNT(*) FROM t") } == 0)
    try db.write { try $0.run("INSERT INTO t (id, v) VALUES (?, ?)", [.integer(3), .text("é ✓")]) }
    #expect(try db.read { try $0.first("SELECT v FROM t WHERE id = 3", []) { $0.text(0) } } == "é ✓")
  }

  /// Foreign keys are enforced (the store deletes a window's samples by cascade), and a migration runs once
  /// however often the database is opened.
  @Test func cascadesAreEnforcedAndMigrationsRunOnce() throws {
    let dir = try TestSupport.temporaryDirectory("sqlite-cascade")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let migrations = [
      (
        "v1",
        """
        CREATE TABLE parent (id INTEGER PRIMARY KEY);
        CREATE TABLE child (parent_id INTEGER NOT NULL REFERENCES parent(id) ON DELETE CASCADE);
        """
      )
    ]
    for _ in 0..<2 {
      let db = try SQLiteDatabase(path: dir + "/t.sqlite")
      try db.migrate(migrations)
      try db.write { db in
        try db.run("INSERT INTO parent (id) VALUES (1)")
        try db.run("INSERT INTO child (parent_id) VALUES (1)")
        try db.run("DELETE FROM parent WHERE id = 1")
      }
      #expect(try db.read { try $0.integer("SELECT COUNT(*) FROM child") } == 0)
    }
  }

  /// A file that is not a database is refused with SQLite's reason, not a crash.
  @Test func aFileThatIsNotADatabaseIsRefusedClearly() throws {
    let dir = try TestSupport.temporaryDirectory("sqlite-garbage")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try Data(repeating: 0x5a, count: 8192).write(to: URL(fileURLWithPath: dir + "/store.sqlite"))
    #expect {
      _ = try ProfileStore(directory: dir)
    } throws: { "\($0)".contains("agent store: open") && "\($0)".contains("file is not a database") }
  }
}
