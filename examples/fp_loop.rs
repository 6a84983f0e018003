//! Runs parse + JA3 + JA4 of one ClientHello file N times (for profilers such as
//! `valgrind --tool=callgrind`, which count instructions instead of timing).
fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: fp_loop HELLO.bin [N]");
    let n: usize = args.next().map(|s| s.parse().unwrap()).unwrap_or(100_000);
    let bytes = std::fs::read(path).unwrap();
    let mut x = 0usize;
    for _ in 0..n {
        let h = helloscope_tls::parse_client_hello_record(std::hint::black_box(&bytes)).unwrap();
        x += helloscope_tls::ja3(&h).string.len();
        x += helloscope_tls::ja4(&h, helloscope_tls::Transport::Tcp)
            .as_str()
            .len();
    }
    println!("{x}");
}
