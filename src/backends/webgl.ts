// Registers the tfjs WebGL backend; a chunk of its own so only pages that run on it load it.
import '@tensorflow/tfjs-backend-webgl';
