// Which rank of `mpirun -n N reckon train` this process is, as the launcher numbered it; it
// decides who prints, before and apart from MPI itself (ReckonTrain/GradientReducer.swift).

import Foundation

/// This process's rank from its MPI launcher's environment (Open MPI's `OMPI_COMM_WORLD_RANK`,
/// PMIx's `PMIX_RANK`); 0 when no launcher started it. Only rank 0 prints notes and progress.
let launchRank: Int = {
    let env = ProcessInfo.processInfo.environment
    return (env["OMPI_COMM_WORLD_RANK"] ?? env["PMIX_RANK"]).flatMap { Int($0) } ?? 0
}()
