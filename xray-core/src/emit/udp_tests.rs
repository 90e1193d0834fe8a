//! The sender thread's choice between segmented sends and one datagram each, against real
//! loopback sockets.

use std::net::{SocketAddr, UdpSocket};

use super::*;

/// A sender on a fresh socket connected to a fresh receiver.
fn sender() -> (Sender, UdpSocket) {
    let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
    receiver.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let daemon: SocketAddr = receiver.local_addr().unwrap();
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.connect(daemon).unwrap();
    let shared = Arc::new(Shared {
        queue: Mutex::new(Queue::default()),
        queue_bytes: 1 << 20,
        subsegment_bytes: subsegment_bytes(1 << 20),
        health: Health::new(daemon, None),
        wake_batch: 64,
        counters: WorkerCounters::default(),
        handled: Mutex::new(0),
        handled_cv: Condvar::new(),
        stop: AtomicBool::new(false),
        thread: OnceLock::new(),
        daemon,
    });
    let max_segment = max_segment_payload(&socket);
    let recycle = std::sync::mpsc::channel().0;
    (Sender { shared, socket, recycle, max_segment, planner: Planner::default(), pacer: None }, receiver)
}

/// A JSON-like datagram of `n` bytes, `fill` repeated inside braces.
fn datagram(n: usize, fill: u8) -> Vec<u8> {
    let mut d = vec![fill; n];
    d[0] = b'{';
    d[n - 1] = b'}';
    d
}

fn receive(receiver: &UdpSocket, n: usize) -> Vec<Vec<u8>> {
    let mut buf = vec![0u8; 65_536];
    (0..n)
        .map(|_| {
            let len = receiver.recv(&mut buf).unwrap();
            buf[..len].to_vec()
        })
        .collect()
}

#[test]
fn similar_datagrams_go_out_in_one_call() {
    let (mut sender, receiver) = sender();
    let batch = vec![datagram(300, b'a'), datagram(290, b'b'), datagram(305, b'c'), datagram(40, b'd')];
    sender.send(&batch);
    let stats = sender.shared.counters.snapshot();
    assert_eq!((stats.datagrams, stats.batches, stats.dropped_send_error), (4, 1, 0), "{stats:?}");
    let mut got = receive(&receiver, 4);
    got.sort_by_key(|d| d[1]);
    // Largest first and unpadded, the last unpadded, the middle ones padded to 305 bytes.
    let padded = |d: &[u8]| [&d[..d.len() - 1], &vec![b' '; 305 - d.len()], b"}"].concat();
    assert_eq!(got, [padded(&batch[0]), padded(&batch[1]), batch[2].clone(), batch[3].clone()]);
}

#[test]
fn a_refused_segmented_send_falls_back_to_one_datagram_each() {
    let (mut sender, receiver) = sender();
    // Three 30,000-byte datagrams are more than one send may carry (the planner never asks
    // for this; the kernel refuses it with EMSGSIZE, as it refuses segmentation it lacks).
    let members: Vec<Vec<u8>> = (0..3).map(|i| datagram(30_000, b'0' + i)).collect();
    let slices: Vec<&[u8]> = members.iter().map(Vec::as_slice).collect();
    let mut retries = 0;
    assert_eq!(sender.send_run(&slices, 30_000, &mut retries), 0, "nothing sent segmented");
    assert_eq!(sender.max_segment, None, "segmentation is off from now on");
    // The next batch goes out one datagram each, whole and unpadded.
    sender.send(&members);
    let stats = sender.shared.counters.snapshot();
    assert_eq!((stats.datagrams, stats.dropped_send_error), (3, 0), "{stats:?}");
    let mut got = receive(&receiver, 3);
    got.sort();
    assert_eq!(got, members);
}
