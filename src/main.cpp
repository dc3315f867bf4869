#include "kmpi/mpi.hpp"
int main(int argc, char** argv) { kmpi::mpi::Environment env(argc, argv); return 0; }
