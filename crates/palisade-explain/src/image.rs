//! What an image's configuration and its `/etc/passwd` and `/etc/group` say about the user it
//! runs as, read as the kubelet reads `USER`: a numeric UID it can check against `runAsNonRoot`,
//! or a name it cannot.

/// The parts of an image that decide how it runs, as the front end read them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageSummary {
    /// The image as named on the command line.
    pub reference: String,
    /// The configuration's `User` (`USER` in a Dockerfile): `""`, `1000`, `1000:1000`, `app`,
    /// `app:app`.
    pub user: Option<String>,
    pub workdir: Option<String>,
    /// `ExposedPorts` keys: `8080/tcp`.
    pub exposed_ports: Vec<String>,
    /// `/etc/passwd`, when the image has one.
    pub passwd: Option<String>,
    /// `/etc/group`, when the image has one.
    pub group: Option<String>,
}

/// The user an image runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageUser {
    /// No `USER`, or a numeric 0: the kubelet sees UID 0.
    Root,
    /// A numeric UID the kubelet can check (not 0), with the group when `USER` names one.
    Uid { uid: i64, gid: Option<i64> },
    /// A name: the kubelet cannot check it. `account` is its passwd entry (UID, primary GID),
    /// when the image has one.
    Name {
        name: String,
        account: Option<(i64, i64)>,
    },
}

impl ImageSummary {
    /// The image's user as the kubelet sees it, resolved through `/etc/passwd` where it is a name.
    pub fn user(&self) -> ImageUser {
        let user = self.user.as_deref().unwrap_or("").trim();
        let (name, group) = user.split_once(':').unwrap_or((user, ""));
        if name.is_empty() {
            return ImageUser::Root;
        }
        if let Ok(uid) = name.parse::<i64>() {
            if uid == 0 {
                return ImageUser::Root;
            }
            let gid = group
                .parse::<i64>()
                .ok()
                .or_else(|| self.group_id(group))
                .or_else(|| self.account_by_uid(uid));
            return ImageUser::Uid { uid, gid };
        }
        let account = self.account(name).map(|(uid, gid)| {
            let gid = group
                .parse::<i64>()
                .ok()
                .or_else(|| self.group_id(group))
                .unwrap_or(gid);
            (uid, gid)
        });
        ImageUser::Name {
            name: name.to_owned(),
            account,
        }
    }

    /// `name`'s UID and primary GID in `/etc/passwd`.
    fn account(&self, name: &str) -> Option<(i64, i64)> {
        self.passwd.as_deref()?.lines().find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            match fields.as_slice() {
                [n, _, uid, gid, ..] if *n == name => Some((uid.parse().ok()?, gid.parse().ok()?)),
                _ => None,
            }
        })
    }

    fn account_by_uid(&self, uid: i64) -> Option<i64> {
        self.passwd.as_deref()?.lines().find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            match fields.as_slice() {
                [_, _, u, gid, ..] if u.parse::<i64>().ok() == Some(uid) => gid.parse().ok(),
                _ => None,
            }
        })
    }

    fn group_id(&self, name: &str) -> Option<i64> {
        if name.is_empty() {
            return None;
        }
        self.group.as_deref()?.lines().find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            match fields.as_slice() {
                [n, _, gid, ..] if *n == name => gid.parse().ok(),
                _ => None,
            }
        })
    }
}

impl ImageUser {
    /// The non-root UID and GID the image itself runs as, when it has one the pod can name.
    pub fn non_root(&self) -> Option<(i64, Option<i64>)> {
        match self {
            ImageUser::Uid { uid, gid } => Some((*uid, *gid)),
            ImageUser::Name {
                account: Some((uid, gid)),
                ..
            } if *uid != 0 => Some((*uid, Some(*gid))),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(user: &str) -> ImageSummary {
        ImageSummary {
            reference: "oci-dir:x".into(),
            user: Some(user.into()),
            passwd: Some("root:x:0:0:root:/root:/bin/sh\nappuser:x:10001:10002::/home/appuser:/usr/sbin/nologin\nsuper:x:0:0::/:/bin/sh\n".into()),
            group: Some("root:x:0:\nappuser:x:10002:\nml:x:3000:\n".into()),
            ..ImageSummary::default()
        }
    }

    #[test]
    fn users_as_the_kubelet_reads_them() {
        assert_eq!(image("").user(), ImageUser::Root);
        assert_eq!(image("0:0").user(), ImageUser::Root);
        assert_eq!(
            image("10001").user(),
            ImageUser::Uid {
                uid: 10001,
                gid: Some(10002)
            }
        );
        assert_eq!(
            image("65532:65532").user(),
            ImageUser::Uid {
                uid: 65532,
                gid: Some(65532)
            }
        );
        assert_eq!(
            image("appuser").user(),
            ImageUser::Name {
                name: "appuser".into(),
                account: Some((10001, 10002))
            }
        );
        assert_eq!(
            image("appuser:ml").user().non_root(),
            Some((10001, Some(3000)))
        );
        // A name for UID 0 is root all the same; a name the image does not list is unknown.
        assert_eq!(image("super").user().non_root(), None);
        assert_eq!(
            image("nobody").user(),
            ImageUser::Name {
                name: "nobody".into(),
                account: None
            }
        );
    }
}
