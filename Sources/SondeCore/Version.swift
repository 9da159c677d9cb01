public enum SondeCoreVersion { public static let version = "0.1.0" }
