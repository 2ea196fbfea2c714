//! A WASI command component that does not implement the credbox world:
//! `credbox build` and `credbox run` must say what it lacks.

fn main() {
    println!("hello from a command, not a helper");
}
