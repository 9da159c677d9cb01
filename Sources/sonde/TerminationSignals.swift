import CSonde
import SondeSystem

/// The CLI's one link from SIGINT/SIGTERM to the engines: a verb that runs until interrupted asks for
/// `TerminationSignals.stopToken()` at its start and hands the token to its engine. The engines install no
/// handlers; a signal only makes the token's descriptor readable, which wakes their waits.
enum TerminationSignals {
  /// A token stopped by the first SIGINT or SIGTERM from now on.
  static func stopToken() -> StopToken {
    let token = StopToken()
    sonde_install_stop_signals(token.waitDescriptor)
    return token
  }
}
