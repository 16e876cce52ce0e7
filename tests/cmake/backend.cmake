# backend: finite-difference gradients, torch reference, backend parity
atas_c_test(NAME test_ops_grad SOURCES test_ops_grad.c TIMEOUT 60)
