/* The MPI transport of `floe explore` (explore/explore.h), built when Open MPI is found: rank 0
 * gathers the other ranks' journal lines as they finish and broadcasts each phase's points. */
#ifndef FLOE_EXPLORE_EXPLORE_MPI_H
#define FLOE_EXPLORE_EXPLORE_MPI_H

#include "common/error.h"
#include "explore/explore.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 1 when this build has MPI. */
int floe_explore_mpi_available(void);

/* 1 when this process was started by mpirun (so MPI should be initialised). */
int floe_explore_mpi_launched(void);

/* Initialises MPI and fills t (rank, size, functions). Returns 0, or -1 with err set. */
int floe_explore_mpi_init(int *argc, char ***argv, floe_explore_transport *t, floe_err *err);
/* Finalises MPI (after every rank has left floe_explore_run). */
void floe_explore_mpi_finish(floe_explore_transport *t);

#ifdef __cplusplus
}
#endif

#endif
