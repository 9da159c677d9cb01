/// Rust's v0 mangling (RFC 2603): `_R` followed by a path grammar with back-references, generic
/// arguments, types, constants and Punycode identifiers.
enum RustV0Demangler {
  static func demangle(_ name: String) -> String? { nil }
}
