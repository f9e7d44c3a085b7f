// Ctrl-C (or SIGUSR1, which mpirun forwards to its ranks) as a request to stop that the training
// loop checks between steps; a second one exits.

import Dispatch
import Foundation

/// Turns the first Ctrl-C (SIGINT) into a request to stop, which the training loop checks
/// between steps; a second Ctrl-C exits at once. SIGUSR1 does the same: `mpirun` kills its
/// ranks on SIGINT but forwards SIGUSR1 to each, so `kill -USR1 <mpirun pid>` stops a
/// data-parallel run with a checkpoint.
///
/// One per process: a recipe runs several stages (and warm-up phases), and a second set of
/// signal sources, installed after the first stage's were released, never fired, so a
/// SIGUSR1 sent during a later phase was lost.
final class Interrupt: @unchecked Sendable {
    static let shared = Interrupt()

    private let lock = NSLock()
    private var requested = false
    private var sources: [any DispatchSourceSignal] = []

    private init() {}

    /// Installs the handler once; the default action (exit) is ignored from then on.
    func install() {
        lock.lock()
        defer { lock.unlock() }
        guard sources.isEmpty else { return }
        for sig in [SIGINT, SIGUSR1] { install(sig) }
    }

    private func install(_ sig: Int32) {
        signal(sig, SIG_IGN)
        let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
        s.setEventHandler { [weak self] in
            guard let self else { return }
            self.lock.lock()
            let again = self.requested
            self.requested = true
            self.lock.unlock()
            if again {
                FileHandle.standardError.write(Data("\nsecond Ctrl-C: exiting without saving\n".utf8))
                exit(130)
            }
            FileHandle.standardError.write(Data("\nCtrl-C: finishing this step, then saving a checkpoint (Ctrl-C again to quit now)\n".utf8))
        }
        s.resume()
        sources.append(s)
    }

    var isRequested: Bool {
        lock.lock()
        defer { lock.unlock() }
        return requested
    }
}
