/// Sonde's version: what `sonde --version` prints and what perf.data's version feature carries.
public enum SondeVersion {
  public static let string = "0.1.0"
}
