// Registers the tfjs WebGL backend with only the kernels the model runs; a chunk of its own so
// only pages that run on it load it.
import './webgl.kernels.generated';
