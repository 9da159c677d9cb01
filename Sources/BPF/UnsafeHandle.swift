/// A libbpf object pointer guarded by a `Mutex`: the pointer is only used while the lock is held.
struct UnsafeHandle: @unchecked Sendable {
  var pointer: OpaquePointer?
  init(_ pointer: OpaquePointer? = nil) { self.pointer = pointer }
}
