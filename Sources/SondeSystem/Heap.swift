import CSonde

/// glibc's allocator, tuned for a long-lived process (`sonde agent`): its resident memory should follow
/// what it holds, not the high-water mark of whatever thread allocated most.
public enum Heap {
  /// Caps glibc's malloc arenas (per-thread heaps, up to 8 per CPU by default). Memory one thread frees is
  /// then reused by the others instead of staying resident in an arena only its thread used. Call before
  /// starting threads; returns whether glibc took it.
  @discardableResult public static func limitArenas(_ arenas: Int32) -> Bool {
    sonde_limit_malloc_arenas(arenas) != 0
  }

  /// Returns free pages inside glibc's heaps to the kernel (free space at a heap's top is returned on its
  /// own; pages between live allocations are not). Walks the free lists: call it after a burst of work
  /// (a drain, a window written), not per allocation. Returns whether any memory was released.
  @discardableResult public static func trim() -> Bool { sonde_trim_heap() != 0 }
}
