import CSQLite

/// What SQLite said when a call failed: its extended result code, its message, and the statement.
struct SQLiteError: Error, CustomStringConvertible {
  var code: Int32
  var message: String
  var sql: String

  var description: String { "SQLite error \(code): \(message)" + (sql.isEmpty ? "" : " (in \(sql))") }
}

/// A value bound to a statement's `?` parameter.
enum SQLiteValue {
  case integer(Int64)
  case text(String)
  case null
}

/// One SQLite connection over its C API, with the statements it has prepared kept for reuse.
///
/// Not thread-safe: whoever owns it serializes its use (`SQLiteDatabase` holds each behind a lock). The
/// connection keeps SQLite's extended result codes, a busy timeout (another connection's write makes it
/// wait, not fail), and foreign keys on, so `ON DELETE CASCADE` is enforced.
final class SQLiteConnection {
  private let handle: OpaquePointer
  private var statements: [String: OpaquePointer] = [:]

  /// `SQLITE_TRANSIENT`: SQLite copies bound text before the call returns.
  private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

  /// Opens `path` (creating it when `readOnly` is false and it is missing).
  init(path: String, readOnly: Bool, busyTimeoutMilliseconds: Int32 = 10_000) throws(SQLiteError) {
    var opened: OpaquePointer?
    let flags = (readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) | SQLITE_OPEN_NOMUTEX
    let rc = sqlite3_open_v2(path, &opened, flags, nil)
    guard rc == SQLITE_OK, let opened else {
      let message = opened.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
      sqlite3_close_v2(opened)
      throw SQLiteError(code: rc, message: message, sql: "")
    }
    handle = opened
    sqlite3_extended_result_codes(handle, 1)
    sqlite3_busy_timeout(handle, busyTimeoutMilliseconds)
    try execute("PRAGMA foreign_keys = ON")
  }

  deinit {
    for statement in statements.values { sqlite3_finalize(statement) }
    sqlite3_close_v2(handle)
  }

  /// Runs `sql`, one or several statements without parameters (schemas, pragmas).
  func execute(_ sql: String) throws(SQLiteError) {
    var message: UnsafeMutablePointer<CChar>?
    let rc = sqlite3_exec(handle, sql, nil, nil, &message)
    defer { sqlite3_free(message) }
    guard rc == SQLITE_OK else {
      throw SQLiteError(code: rc, message: message.map { String(cString: $0) } ?? errorMessage, sql: sql)
    }
  }

  /// Runs one statement with `arguments` bound to its parameters, ignoring any rows it returns.
  func run(_ sql: String, _ arguments: [SQLiteValue] = []) throws(SQLiteError) {
    try query(sql, arguments) { _ throws(SQLiteError) in }
  }

  /// Runs one statement and calls `row` for each row it returns. The statement is prepared once per
  /// connection and kept for reuse, by its text: give it constant SQL with `?` parameters (SQL made from
  /// values goes through `execute`, which keeps nothing).
  func query(
    _ sql: String, _ arguments: [SQLiteValue] = [], row: (SQLiteRow) throws(SQLiteError) -> Void
  ) throws(SQLiteError) {
    let statement = try prepared(sql)
    defer {
      sqlite3_reset(statement)
      sqlite3_clear_bindings(statement)
    }
    for (index, argument) in arguments.enumerated() {
      try bind(argument, at: Int32(index + 1), in: statement, sql: sql)
    }
    while true {
      let rc = sqlite3_step(statement)
      if rc == SQLITE_DONE { return }
      guard rc == SQLITE_ROW else { throw SQLiteError(code: rc, message: errorMessage, sql: sql) }
      try row(SQLiteRow(statement: statement))
    }
  }

  /// The rows of one statement, each made into a value by `make`.
  func rows<T>(
    _ sql: String, _ arguments: [SQLiteValue] = [], _ make: (SQLiteRow) throws(SQLiteError) -> T
  ) throws(SQLiteError) -> [T] {
    var result: [T] = []
    try query(sql, arguments) { row throws(SQLiteError) in result.append(try make(row)) }
    return result
  }

  /// The first row of one statement made into a value, or nil when it returns none.
  func first<T>(
    _ sql: String, _ arguments: [SQLiteValue] = [], _ make: (SQLiteRow) throws(SQLiteError) -> T
  ) throws(SQLiteError) -> T? {
    var result: T?
    try query(sql, arguments) { row throws(SQLiteError) in
      if result == nil { result = try make(row) }
    }
    return result
  }

  /// The integer in the first column of the first row (nil when there is no row or it is NULL).
  func integer(_ sql: String, _ arguments: [SQLiteValue] = []) throws(SQLiteError) -> Int64? {
    try first(sql, arguments) { $0.isNull(0) ? nil : $0.integer(0) } ?? nil
  }

  /// Runs `body` in a transaction: committed when it returns, rolled back when it throws. `immediate`
  /// takes the write lock at the start (writers), otherwise at the first write (readers get one snapshot
  /// for all their statements).
  func transaction<T>(immediate: Bool, _ body: (SQLiteConnection) throws -> T) throws -> T {
    try execute(immediate ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED")
    do {
      let result = try body(self)
      try execute("COMMIT")
      return result
    } catch {
      try? execute("ROLLBACK")
      throw error
    }
  }

  /// The rowid of the last row this connection inserted.
  var lastInsertedRowID: Int64 { sqlite3_last_insert_rowid(handle) }

  private var errorMessage: String { String(cString: sqlite3_errmsg(handle)) }

  private func prepared(_ sql: String) throws(SQLiteError) -> OpaquePointer {
    if let statement = statements[sql] { return statement }
    var statement: OpaquePointer?
    let rc = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
    guard rc == SQLITE_OK, let statement else { throw SQLiteError(code: rc, message: errorMessage, sql: sql) }
    statements[sql] = statement
    return statement
  }

  private func bind(_ value: SQLiteValue, at index: Int32, in statement: OpaquePointer, sql: String)
    throws(SQLiteError)
  {
    let rc: Int32
    switch value {
    case .integer(let integer): rc = sqlite3_bind_int64(statement, index, integer)
    case .text(let text): rc = sqlite3_bind_text(statement, index, text, -1, Self.transient)
    case .null: rc = sqlite3_bind_null(statement, index)
    }
    guard rc == SQLITE_OK else { throw SQLiteError(code: rc, message: errorMessage, sql: sql) }
  }
}

/// The current row of a statement being stepped; valid only inside the `query` callback that received it.
struct SQLiteRow {
  fileprivate let statement: OpaquePointer

  func integer(_ column: Int32) -> Int64 { sqlite3_column_int64(statement, column) }

  func text(_ column: Int32) -> String {
    guard let bytes = sqlite3_column_text(statement, column) else { return "" }
    let count = Int(sqlite3_column_bytes(statement, column))
    return String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
  }

  func isNull(_ column: Int32) -> Bool { sqlite3_column_type(statement, column) == SQLITE_NULL }
}
