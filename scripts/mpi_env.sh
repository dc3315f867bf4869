# Source this: lets mpirun run as root and oversubscribe a small machine (../shared/ENVIRONMENT.md).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_pml=ob1
export OMPI_MCA_hwloc_base_binding_policy=none
# Waiting ranks yield the core instead of spinning: with more ranks than free cores (tests at 4
# ranks on 2 cores, or other work on the machine) a spinning waiter steals the core its peer needs
# (measured: EigenPro 2 setup 1.96 s spinning vs 0.15 s yielding, 2 ranks on a busy 2-core machine).
export OMPI_MCA_mpi_yield_when_idle=${OMPI_MCA_mpi_yield_when_idle:-1}
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
# mpirun across nodes: Open MPI's keepalive on its daemons' connections is what ends a job whose
# node is cut off; its default (300 s idle + 9 x 20 s) outlives run.stall_timeout (120 s). 30 s +
# 3 x 10 s ends it in about a minute (tests/cluster/README.md). scripts/openmpi-mca-params.conf
# holds the same values for Open MPI's own parameter file (README: Running across nodes).
export OMPI_MCA_oob_tcp_keepalive_time=${OMPI_MCA_oob_tcp_keepalive_time:-30}
export OMPI_MCA_oob_tcp_keepalive_intvl=${OMPI_MCA_oob_tcp_keepalive_intvl:-10}
export OMPI_MCA_oob_tcp_keepalive_probes=${OMPI_MCA_oob_tcp_keepalive_probes:-3}
