/// One loaded kernel module as `/proc/modules` lists it: `name size refcount deps state address [taints]`.
///
/// The size covers all of the module's memory (text, data, read-only data), and the address is where its text
/// starts, so `[address, address + size)` bounds the module's code: that is how the last kallsyms symbol of a
/// module (which has no size) gets an end. Unprivileged readers see address 0 (kptr_restrict).
public struct KernelModule: Sendable, Hashable {
  public var name: String
  /// Bytes of memory the module occupies.
  public var size: UInt64
  /// Load address of the module's text (0 when hidden).
  public var address: UInt64

  public init(name: String, size: UInt64, address: UInt64) {
    self.name = name
    self.size = size
    self.address = address
  }

  /// Whether `vaddr` lies inside the module's memory.
  public func contains(_ vaddr: UInt64) -> Bool { vaddr >= address && vaddr - address < size }

  /// Parses `/proc/modules` text; malformed lines are skipped.
  public static func parse(_ bytes: [UInt8]) -> [KernelModule] {
    var result: [KernelModule] = []
    for line in bytes.split(separator: 0x0A) {
      let fields = line.split(separator: 0x20)
      guard fields.count >= 6, let size = UInt64(String(decoding: fields[1], as: UTF8.self)) else { continue }
      var address = String(decoding: fields[5], as: UTF8.self)
      if address.hasPrefix("0x") { address.removeFirst(2) }
      guard let start = UInt64(address, radix: 16) else { continue }
      result.append(KernelModule(name: String(decoding: fields[0], as: UTF8.self), size: size, address: start))
    }
    return result
  }
}
