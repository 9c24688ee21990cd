"""Device mirrors of a module's flat buffers, with the same named views."""

from numba import cuda

from ..kernels.cuda import linalg


def device_views(module, flat, prefix=""):
    """``{state-dict name: view}`` of a device buffer laid out as ``module.flat_params``.

    Views have the stored shapes (2-D weights transposed), as ``module._params``.
    """
    views = {}
    offset = 0
    for spec in module._parameter_specs():
        views[prefix + spec.name] = flat[offset : offset + spec.size].reshape(spec.stored_shape)
        offset += spec.size
    for child_prefix, child in module._submodules():
        size = child.n_parameters
        views.update(device_views(child, flat[offset : offset + size], f"{prefix}{child_prefix}."))
        offset += size
    return views


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
        self.p = device_views(module, self.params)
        self.g = device_views(module, self.grads)

    def upload(self):
        """Copy the host parameters to the device."""
        self.params.copy_to_device(self.module.flat_params)

    def download(self):
        """Copy the device parameters into the host module's buffer."""
        self.params.copy_to_host(self.module.flat_params)

    def add_grads_to_host(self):
        """Add the device gradients into the host module's gradient buffer."""
        self.module.flat_grads += self.grads.copy_to_host()

    def zero_grad(self):
        linalg.fill(self.grads, 0)
