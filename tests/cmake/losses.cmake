# ATAS objective (losses): finite-difference gradients and an independent PyTorch reference.
atas_c_test(NAME test_losses_grad SOURCES test_losses_grad.c TIMEOUT 120)
