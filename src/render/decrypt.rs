//! Text of `decrypt`'s report: what was written, that the copy holds plaintext secrets and with
//! which modes, and every entry left encrypted, grouped by why.

use crate::analyses::decrypt::{DecryptReport, LeftReason, ranges};

/// Text report: what was written, that it holds plaintext secrets, and every entry left
/// encrypted grouped by why.
pub fn text(rep: &DecryptReport) -> String {
    let mut s = format!(
        "wrote {}: {} WAL segments ({} entries decrypted, {} left encrypted), {} snapshots ({} skipped)\n",
        rep.output,
        rep.segments,
        rep.entries_decrypted,
        rep.entries_left_encrypted.len(),
        rep.snapshots,
        rep.snapshots_skipped.len()
    );
    s.push_str(&format!(
        "the copy holds plaintext secrets (secret and config data, env values): directories {}, files {}; keep it private and delete it when done\n",
        rep.dir_mode, rep.file_mode
    ));
    for reason in [LeftReason::RetiredDek, LeftReason::DamagedRecord, LeftReason::NoKey] {
        let ix: Vec<u64> = rep.left_encrypted.iter().filter(|l| l.reason == reason).map(|l| l.index).collect();
        if ix.is_empty() {
            continue;
        }
        let why = match reason {
            LeftReason::RetiredDek => "the snapshot covers them, so nothing is lost",
            LeftReason::DamagedRecord => "their WAL records fail the CRC check",
            LeftReason::NoKey => "no DEK of this input opens them and no snapshot covers them",
        };
        s.push_str(&format!(
            "left encrypted: {}: {} entries (index {}): {why}\n",
            reason.words(),
            ix.len(),
            ranges(&ix)
        ));
    }
    for n in &rep.snapshots_skipped {
        s.push_str(&format!("snapshot skipped (not decrypted): {n}\n"));
    }
    s
}
