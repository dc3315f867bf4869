# Source this: lets mpirun run as root and oversubscribe a small machine (../shared/ENVIRONMENT.md).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_pml=ob1
export OMPI_MCA_hwloc_base_binding_policy=none
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
