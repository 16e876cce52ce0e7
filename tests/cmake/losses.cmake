# ATAS objective (losses): finite-difference gradients and an independent PyTorch reference.
atas_c_test(NAME test_losses_grad SOURCES test_losses_grad.c TIMEOUT 120)
atas_c_test(NAME test_losses_torch SOURCES test_losses_torch.c TIMEOUT 120)
