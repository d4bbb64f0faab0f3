import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A task executor on one thread of its own at nice 10: work that can wait (presigning for the
/// pool) runs here, so the kernel gives the cores to latency-critical work (an online signing
/// round, consensus) first. Task priorities alone do not do that: a low-priority job that holds a
/// cooperative-pool thread for a 100 ms proof is not preempted.
final class BackgroundExecutor: TaskExecutor, @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var thread: Thread?

    init(name: String, nice: Int32 = 10) {
        let thread = Thread { [unowned self] in
            #if canImport(Glibc)
                // who = 0: the calling thread (Linux keeps the nice value per thread).
                _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, nice)
            #endif
            self.loop()
        }
        thread.name = name
        thread.qualityOfService = .background
        self.thread = thread
        thread.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        condition.lock()
        jobs.append(unowned)
        condition.signal()
        condition.unlock()
    }

    private func loop() {
        while true {
            condition.lock()
            while jobs.isEmpty { condition.wait() }
            let job = jobs.removeFirst()
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}
