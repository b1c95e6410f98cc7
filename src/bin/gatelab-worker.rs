//! Entry point of the CPU engine's Web Worker, built by Trunk as a worker
//! (`data-type="worker"` in index.html).

use gatelab_web::protocol::JsonCodec;
use gatelab_web::worker::Trainer;
use gloo::worker::Registrable;

fn main() {
    gatelab_web::fault::install_worker_hook();
    Trainer::registrar().encoding::<JsonCodec>().register();
}
