/// The ELF file header fields Sonde uses (from the System V gABI, `Elf32_Ehdr`/`Elf64_Ehdr`).
public struct ELFHeader: Sendable, Hashable {
  /// True for ELFCLASS64, false for ELFCLASS32.
  public var is64Bit: Bool
  /// True for ELFDATA2MSB (big-endian), false for ELFDATA2LSB.
  public var isBigEndian: Bool
  /// e_type: 1 REL, 2 EXEC, 3 DYN (PIE or shared object), 4 CORE.
  public var type: UInt16
  /// e_machine: 62 x86-64, 183 AArch64, 3 i386, …
  public var machine: UInt16
  public var entry: UInt64
  public var programHeaderOffset: UInt64
  public var sectionHeaderOffset: UInt64
  public var programHeaderEntrySize: UInt16
  public var programHeaderCount: UInt16
  public var sectionHeaderEntrySize: UInt16
  public var sectionHeaderCount: UInt16
  public var sectionNameTableIndex: UInt16
}

/// One program header (segment). `PT_LOAD` segments define how file offsets map to virtual addresses.
public struct ELFProgramHeader: Sendable, Hashable {
  public static let PT_LOAD: UInt32 = 1
  public static let PT_DYNAMIC: UInt32 = 2
  public static let PT_NOTE: UInt32 = 4
  public static let PF_X: UInt32 = 1

  public var type: UInt32
  public var flags: UInt32
  public var offset: UInt64
  public var virtualAddress: UInt64
  public var fileSize: UInt64
  public var memorySize: UInt64
  public var alignment: UInt64

  /// Whether this is a loadable segment.
  public var isLoad: Bool { type == Self.PT_LOAD }
  /// Whether the segment is executable.
  public var isExecutable: Bool { flags & Self.PF_X != 0 }
}

/// One section header, with its name resolved from the section-name string table.
public struct ELFSection: Sendable, Hashable {
  public static let SHT_PROGBITS: UInt32 = 1
  public static let SHT_SYMTAB: UInt32 = 2
  public static let SHT_STRTAB: UInt32 = 3
  public static let SHT_NOTE: UInt32 = 7
  public static let SHT_NOBITS: UInt32 = 8
  public static let SHT_DYNSYM: UInt32 = 11
  /// sh_flags bit: the section occupies memory at run time.
  public static let SHF_ALLOC: UInt64 = 2
  /// sh_flags bit: the section holds executable instructions.
  public static let SHF_EXECINSTR: UInt64 = 4

  public var name: String
  public var type: UInt32
  public var flags: UInt64
  public var address: UInt64
  public var offset: UInt64
  public var size: UInt64
  public var link: UInt32
  public var info: UInt32
  public var entrySize: UInt64
}

/// A symbol from `.symtab` or `.dynsym`.
public struct ELFSymbol: Sendable, Hashable {
  /// STT_* values of the low nibble of st_info.
  public enum Kind: UInt8, Sendable {
    case none = 0
    case object = 1
    case function = 2
    case section = 3
    case file = 4
    case common = 5
    case tls = 6
    case gnuIndirect = 10
    case other = 255
  }
  /// STB_* values of the high nibble of st_info.
  public enum Binding: UInt8, Sendable {
    case local = 0
    case global = 1
    case weak = 2
    case gnuUnique = 10
    case other = 255
  }

  /// The symbol name as stored (mangled).
  public var name: String
  /// st_value: the ELF virtual address for executables and shared objects.
  public var address: UInt64
  /// st_size: the extent of the object or function in bytes (0 when unknown).
  public var size: UInt64
  public var kind: Kind
  public var binding: Binding
  /// st_shndx: 0 means undefined (an import), which lookups ignore.
  public var sectionIndex: UInt16
  /// True when the symbol came from `.dynsym` rather than `.symtab`.
  public var isDynamic: Bool

  /// Whether `vaddr` falls inside `[address, address + size)`.
  public func contains(_ vaddr: UInt64) -> Bool {
    vaddr >= address && vaddr - address < size
  }
}
