//! A SCIM `Provisioner` for Jira, Confluence, Bitbucket, Crowd and Atlassian Cloud (work in progress).
