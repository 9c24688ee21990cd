"""Device mirrors of a module's flat buffers, with the same named views."""

from numba import cuda

from ..kernels.gpu import linalg


class DeviceBuffers:
    """A module's parameters and gradients on the device, as flat buffers and views.

    Parameters
    ----------
    module : Module
        The host module; its ``flat_params`` are uploaded now.
    """

    def __init__(self, module):
        self.module = module
        self.params = cuda.to_device(module.flat_params)
        self.grads = linalg.zeros(module.flat_params.shape, module.flat_params.dtype)
        self.p = module.named_views(self.params)
        self.g = module.named_views(self.grads)

    def download(self):
        """Copy the device parameters into the host module's buffer."""
        self.params.copy_to_host(self.module.flat_params)

    def add_grads_to_host(self):
        """Add the device gradients into the host module's gradient buffer."""
        self.module.flat_grads += self.grads.copy_to_host()

    def zero_grad(self):
        linalg.fill(self.grads, 0)
