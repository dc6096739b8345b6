//! Serving a [CastoreFs] to a virtual machine as a vhost-user virtio-fs
//! device: the VMM (cloud-hypervisor, QEMU) connects to a Unix socket and
//! hands over the guest's memory and queues; FUSE requests then arrive on
//! the request queue instead of `/dev/fuse`.
//!
//! The device has the two queues of virtio-fs (high priority and one
//! request queue); requests are answered in order on the thread of the
//! queue. No DAX window: file contents are always copied.

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use fuse_backend_rs::api::server::Server;
use fuse_backend_rs::transport::{Reader, VirtioFsWriter};
use thiserror::Error;
use vhost::vhost_user::message::{VhostUserProtocolFeatures, VhostUserVirtioFeatures};
use vhost_user_backend::{VhostUserBackend, VhostUserDaemon, VringMutex, VringState, VringT};
use virtio_queue::QueueOwnedT;
use vm_memory::{GuestAddressSpace, GuestMemoryAtomic, GuestMemoryMmap};
use vmm_sys_util::epoll::EventSet;
use vmm_sys_util::event::{
    EventConsumer, EventFlag, EventNotifier, new_event_consumer_and_notifier,
};

use super::CastoreFs;

/// virtio 1.0 (`VIRTIO_F_VERSION_1`), feature bit 32.
const VIRTIO_F_VERSION_1: u64 = 1 << 32;
/// Indirect descriptors (`VIRTIO_RING_F_INDIRECT_DESC`), bit 28.
const VIRTIO_RING_F_INDIRECT_DESC: u64 = 1 << 28;
/// Used/available event indices (`VIRTIO_RING_F_EVENT_IDX`), bit 29.
const VIRTIO_RING_F_EVENT_IDX: u64 = 1 << 29;

/// The high-priority queue and one request queue.
const NUM_QUEUES: usize = 2;
const QUEUE_SIZE: usize = 1024;

#[derive(Debug, Error)]
pub enum VirtiofsError {
    #[error("setting up the vhost-user daemon: {0}")]
    Daemon(String),
    #[error("serving on {path:?}: {message}")]
    Serve {
        path: std::path::PathBuf,
        message: String,
    },
}

type GuestMemory = GuestMemoryAtomic<GuestMemoryMmap>;

/// The vhost-user back end: the guest's memory once the VMM sent it, and
/// the FUSE server answering from the queues.
#[derive(Clone)]
struct Backend {
    server: Arc<Server<Arc<CastoreFs>>>,
    memory: Arc<RwLock<Option<GuestMemory>>>,
    event_idx: Arc<AtomicBool>,
    /// Tells the queue thread to stop once the VMM has gone; without it
    /// that thread, and so the daemon, would never end.
    exit: Arc<(EventConsumer, EventNotifier)>,
}

impl Backend {
    /// Answers every request waiting in `vring`'s queue.
    fn process_queue(&self, vring: &mut VringState<GuestMemory>) -> io::Result<()> {
        let memory = self
            .memory
            .read()
            .map_err(|_| io::Error::other("guest memory lock poisoned"))?
            .clone()
            .ok_or_else(|| io::Error::other("a queue was kicked before guest memory was set"))?;
        let guest = memory.memory();
        let chains: Vec<_> = vring
            .get_queue_mut()
            .iter(guest.clone())
            .map_err(|e| io::Error::other(format!("reading the queue: {e}")))?
            .collect();
        for chain in chains {
            let head = chain.head_index();
            let reader = Reader::from_descriptor_chain(&*guest, chain.clone())
                .map_err(|e| io::Error::other(format!("request descriptors: {e}")))?;
            let writer = VirtioFsWriter::new(&*guest, chain)
                .map_err(|e| io::Error::other(format!("reply descriptors: {e}")))?;
            let written = self
                .server
                .handle_message(reader, writer.into(), None, None)
                .unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "answering a virtio-fs request");
                    0
                });
            vring
                .add_used(head, u32::try_from(written).unwrap_or(u32::MAX))
                .map_err(|e| io::Error::other(format!("returning a descriptor: {e}")))?;
        }
        vring.signal_used_queue()
    }
}

impl VhostUserBackend for Backend {
    type Bitmap = ();
    type Vring = VringMutex;

    fn num_queues(&self) -> usize {
        NUM_QUEUES
    }

    fn max_queue_size(&self) -> usize {
        QUEUE_SIZE
    }

    fn features(&self) -> u64 {
        VIRTIO_F_VERSION_1
            | VIRTIO_RING_F_INDIRECT_DESC
            | VIRTIO_RING_F_EVENT_IDX
            | VhostUserVirtioFeatures::PROTOCOL_FEATURES.bits()
    }

    fn protocol_features(&self) -> VhostUserProtocolFeatures {
        VhostUserProtocolFeatures::MQ | VhostUserProtocolFeatures::CONFIGURE_MEM_SLOTS
    }

    fn exit_event(&self, _thread_index: usize) -> Option<(EventConsumer, EventNotifier)> {
        let (consumer, notifier) = &*self.exit;
        match (consumer.try_clone(), notifier.try_clone()) {
            (Ok(consumer), Ok(notifier)) => Some((consumer, notifier)),
            (Err(e), _) | (_, Err(e)) => {
                tracing::error!(error = %e, "duplicating the exit event");
                None
            }
        }
    }

    fn set_event_idx(&self, enabled: bool) {
        self.event_idx.store(enabled, Ordering::Relaxed);
    }

    fn update_memory(&self, memory: GuestMemory) -> io::Result<()> {
        *self
            .memory
            .write()
            .map_err(|_| io::Error::other("guest memory lock poisoned"))? = Some(memory);
        Ok(())
    }

    fn handle_event(
        &self,
        device_event: u16,
        evset: EventSet,
        vrings: &[VringMutex],
        _thread_id: usize,
    ) -> io::Result<()> {
        if evset != EventSet::IN {
            return Err(io::Error::other(format!("unexpected event set {evset:?}")));
        }
        let vring = vrings
            .get(usize::from(device_event))
            .ok_or_else(|| io::Error::other(format!("no queue {device_event}")))?;
        let mut state = vring.get_mut();
        if !self.event_idx.load(Ordering::Relaxed) {
            return self.process_queue(&mut state);
        }
        // With event indices, requests that arrive while the queue is
        // drained raise no new event: drain until none came in meanwhile.
        loop {
            state
                .disable_notification()
                .map_err(|e| io::Error::other(e.to_string()))?;
            self.process_queue(&mut state)?;
            if !state
                .enable_notification()
                .map_err(|e| io::Error::other(e.to_string()))?
            {
                return Ok(());
            }
        }
    }
}

/// Serves `fs` to the one VMM that connects to `socket` (created, replacing
/// a stale one), until it disconnects.
pub fn serve_virtiofs(fs: CastoreFs, socket: &Path) -> Result<(), VirtiofsError> {
    let backend = Backend {
        server: Arc::new(Server::new(Arc::new(fs))),
        memory: Arc::default(),
        event_idx: Arc::default(),
        exit: Arc::new(
            new_event_consumer_and_notifier(EventFlag::NONBLOCK)
                .map_err(|e| VirtiofsError::Daemon(format!("creating the exit event: {e}")))?,
        ),
    };
    let mut daemon = VhostUserDaemon::new(
        "tvix-virtiofs".to_owned(),
        backend,
        GuestMemoryAtomic::new(GuestMemoryMmap::new()),
    )
    .map_err(|e| VirtiofsError::Daemon(e.to_string()))?;
    daemon.serve(socket).map_err(|e| VirtiofsError::Serve {
        path: socket.to_owned(),
        message: e.to_string(),
    })
}
