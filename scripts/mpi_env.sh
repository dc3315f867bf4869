# Source this: lets mpirun run as root and oversubscribe a small machine (../shared/ENVIRONMENT.md).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_pml=ob1
export OMPI_MCA_hwloc_base_binding_policy=none
# Waiting ranks yield the core instead of spinning: with more ranks than free cores (tests at 4
# ranks on 2 cores, or other work on the machine) a spinning waiter steals the core its peer needs
# (measured: EigenPro 2 setup 1.96 s spinning vs 0.15 s yielding, 2 ranks on a busy 2-core machine).
export OMPI_MCA_mpi_yield_when_idle=${OMPI_MCA_mpi_yield_when_idle:-1}
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
